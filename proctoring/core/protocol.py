"""The WebSocket protocol as data: message types, error codes and close codes.

The consumer, the exam page (rendered into it as JSON), docs/protocol.md and the tests all use
these names; change them here and nowhere else.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

from proctoring.core.hints import HINTS


class MessageType(StrEnum):
    FRAME = "frame"  # client -> server (JSON form; a binary message is a frame too)
    ACK = "ack"  # server -> client
    ERROR = "error"  # server -> client
    THROTTLE = "throttle"  # server -> client: send at most `fps` frames per second from now on
    # server -> client: the attempt's state (`attempt_state`), at connect and at every change
    ATTEMPT = "attempt"
    MESSAGE = "message"  # server -> client: a proctor's message (`proctor_message`)
    MESSAGE_READ = "message_read"  # client -> server: {"type": "message_read", "id": <message id>}


class ErrorCode(StrEnum):
    BAD_MESSAGE = "bad_message"  # text that is not a known JSON message
    BAD_FRAME = "bad_frame"  # not a decodable JPEG or PNG
    FRAME_TOO_LARGE = "frame_too_large"  # above PROCTORING_MAX_FRAME_BYTES
    RATE_LIMITED = "rate_limited"  # the client already has its maximum of frames pending
    UNAVAILABLE = "unavailable"  # the queue (Redis) could not take the frame; send it again later
    QUEUE_FULL = "queue_full"  # PROCTORING_MAX_QUEUED frames wait already (all clients): overload
    # The API refused this client's last PROCTORING_REFUSALS_TO_BLOCK frames: none is taken until
    # PROCTORING_REFUSAL_COOLDOWN seconds pass (the detail says how long is left)
    FRAMES_REFUSED = "frames_refused"


class CloseCode:
    UNAUTHENTICATED = 4401  # no session and no valid token
    FORBIDDEN = 4403  # not this user's attempt, no such attempt, ended attempt, foreign origin
    IDLE = 4408  # nothing received for PROCTORING_IDLE_TIMEOUT seconds (reconnect to go on)
    # PROCTORING_MAX_CONNECTIONS_PER_IP or _PER_ATTEMPT sockets are open already (retry later)
    TOO_MANY_CONNECTIONS = 4429
    # The attempt ended (submitted, timed out or terminated): sent after a final `attempt` message
    # saying how; do not reconnect. Frames acked before it are still analysed.
    ATTEMPT_ENDED = 4410


def ack(
    seq: int, job_id: str, paused: bool = False, hint: str | None = None, replaced: str | None = None
) -> str:
    """The frame is queued; `paused` says workers are paused, so it waits until they resume;
    `hint` is what the latest analysed frame showed of the camera (`hints.HINTS`); `replaced`,
    the job id of this client's older frame that this one took the place of (latest-frame-wins:
    that one will not be analysed)."""
    message: dict[str, Any] = {"type": MessageType.ACK.value, "seq": seq, "job_id": job_id}
    if paused:
        message["paused"] = True
    if hint:
        message["hint"] = hint
    if replaced:
        message["replaced"] = replaced
    return json.dumps(message)


def error(seq: int, code: ErrorCode, detail: str) -> str:
    return json.dumps({"type": MessageType.ERROR.value, "seq": seq, "code": code.value, "detail": detail})


def throttle(fps: float) -> str:
    return json.dumps({"type": MessageType.THROTTLE.value, "fps": fps})


def attempt_state(
    status: str, seconds_left: float | None, *, ended: bool, reason: str = "", extra_seconds: int = 0
) -> str:
    """The attempt's state: `status` (started, in_progress, paused, submitted, timed_out,
    terminated), `seconds_left` on its clock (None before it starts; frozen while paused) counted
    from when the message was written (so the client's own clock does not matter), `ended`, and
    why it ended or was paused (`reason`)."""
    message: dict[str, Any] = {
        "type": MessageType.ATTEMPT.value,
        "status": status,
        "seconds_left": None if seconds_left is None else round(seconds_left, 1),
        "ended": ended,
        "extra_seconds": extra_seconds,
    }
    if reason:
        message["reason"] = reason
    return json.dumps(message)


def proctor_message(message_id: int, body: str, sent_at: str) -> str:
    """A proctor's message to show the exam taker; the page answers `message_read` with its id."""
    return json.dumps({"type": MessageType.MESSAGE.value, "id": message_id, "body": body, "sent_at": sent_at})


def as_json_data() -> dict[str, Any]:
    """What the exam page needs to know of the protocol."""
    return {
        "types": {m.name: m.value for m in MessageType},
        "errors": {c.name: c.value for c in ErrorCode},
        "close": {
            "UNAUTHENTICATED": CloseCode.UNAUTHENTICATED,
            "FORBIDDEN": CloseCode.FORBIDDEN,
            "IDLE": CloseCode.IDLE,
            "TOO_MANY_CONNECTIONS": CloseCode.TOO_MANY_CONNECTIONS,
            "ATTEMPT_ENDED": CloseCode.ATTEMPT_ENDED,
        },
        "hints": dict(HINTS),
    }
