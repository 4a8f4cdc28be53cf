"""Errors of the frame pipeline.

    ProctoringError
    ├── FrameError                 a frame the gateway refuses (maps to a protocol error code)
    │   ├── BadMessage             text that is not a known JSON message       -> bad_message
    │   ├── BadFrame               not a decodable JPEG or PNG                 -> bad_frame
    │   └── FrameTooLarge          above PROCTORING_MAX_FRAME_BYTES            -> frame_too_large
    ├── AdmissionError             the queue will not take the frame now
    │   ├── RateLimited            the client has its maximum of frames pending -> rate_limited
    │   ├── QueueFull              PROCTORING_MAX_QUEUED frames wait already    -> queue_full
    │   └── QueueUnavailable       Redis did not confirm the job                -> unavailable
    ├── ApiError                   the proctoring API did not analyse the frame
    │   ├── ApiUnavailable         connection error, timeout, 5xx, 429: retried with backoff
    │   └── ApiRejected            any other 4xx, or an answer that is not JSON: fails at once
    └── FrameMissing               a queued frame's bytes are gone from Redis: fails at once

An exception whose `retryable` is False ends its job at once, whatever attempts are left.

`FrameError.code` and `AdmissionError.code` are the protocol's error codes; the consumer maps
exceptions to replies through them and nowhere else.
"""

from __future__ import annotations

from proctoring.core.protocol import ErrorCode


class ProctoringError(Exception):
    """Base class of the pipeline's errors."""


class FrameError(ProctoringError):
    code: ErrorCode = ErrorCode.BAD_FRAME


class BadMessage(FrameError):
    code = ErrorCode.BAD_MESSAGE


class BadFrame(FrameError):
    code = ErrorCode.BAD_FRAME


class FrameTooLarge(FrameError):
    code = ErrorCode.FRAME_TOO_LARGE


class AdmissionError(ProctoringError):
    code: ErrorCode = ErrorCode.UNAVAILABLE


class RateLimited(AdmissionError):
    code = ErrorCode.RATE_LIMITED


class QueueFull(AdmissionError):
    code = ErrorCode.QUEUE_FULL


class FramesRefused(AdmissionError):
    code = ErrorCode.FRAMES_REFUSED


class QueueUnavailable(AdmissionError):
    code = ErrorCode.UNAVAILABLE


class ApiError(ProctoringError):
    """The API call failed. `status` and `body` are the API's answer, when there was one."""

    retryable = False

    def __init__(self, message: str, *, status: int | None = None, body: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class ApiUnavailable(ApiError):
    retryable = True


class ApiRejected(ApiError):
    retryable = False


class FrameMissing(ProctoringError):
    retryable = False
