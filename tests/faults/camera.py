"""A camera client that behaves as the exam page does under faults: a frame refused
`unavailable` or `rate_limited` is followed by a newer one after a pause, a closed socket is
reopened with backoff, and every ack is recorded with when it came."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.support import jpeg_bytes


@dataclass
class Camera:
    url: str
    acked: dict[str, float] = field(default_factory=dict)  # job id -> when acked (monotonic)
    unavailable: int = 0  # frames refused `unavailable`
    rate_limited: int = 0  # frames refused `rate_limited` (too many of its frames pending)
    reconnects: int = 0
    closes: list[int | None] = field(default_factory=list)  # close codes seen
    _ws: ClientConnection | None = None

    def __enter__(self) -> Camera:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._ws is not None:
            self._ws.close()
            self._ws = None

    def _socket(self, deadline: float) -> ClientConnection:
        delay = 0.1
        while self._ws is None:
            try:
                # Entered as a context manager (websockets 17 warns otherwise); closed in close().
                self._ws = connect(self.url, open_timeout=5).__enter__()
            except (OSError, TimeoutError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(delay)  # nothing listens yet: back off as the page does
                delay = min(delay * 2, 1.0)
                self.reconnects += 1
        return self._ws

    def send(self, timeout: float = 30) -> str:
        """Sends frames until one is acked (as the exam page goes on after `unavailable` or a
        dropped socket) and returns its job id."""
        deadline = time.monotonic() + timeout
        while True:
            if time.monotonic() > deadline:
                raise AssertionError(f"no frame acked within {timeout}s")
            ws = self._socket(deadline)
            try:
                ws.send(jpeg_bytes())
                answer = json.loads(ws.recv(timeout=15))
                while answer["type"] == "throttle":  # a rate hint, not this frame's answer
                    answer = json.loads(ws.recv(timeout=15))
            except (ConnectionClosed, TimeoutError) as closed:
                rcvd = getattr(closed, "rcvd", None)
                self.closes.append(rcvd.code if rcvd else None)
                self._ws = None
                self.reconnects += 1
                continue
            if answer["type"] == "ack":
                self.acked[answer["job_id"]] = time.monotonic()
                return str(answer["job_id"])
            if answer.get("code") == "unavailable":
                self.unavailable += 1
                time.sleep(0.2)  # the page's pause before it tries a newer frame
                continue
            if answer.get("code") == "rate_limited":
                self.rate_limited += 1  # not acked: the page shows it and sends its next frame
                time.sleep(0.2)
                continue
            raise AssertionError(f"unexpected answer: {answer}")


def streaming_threads(
    cameras: list[Camera], stop: threading.Event, errors: list[BaseException], fps: float
) -> list[threading.Thread]:
    """A thread per camera (not started) that sends a frame, then waits 1 / `fps` s (the camera's
    pace), until `stop` is set; an error ends it and is appended to `errors` for the main thread."""

    def stream(camera: Camera) -> None:
        try:
            while not stop.is_set():
                camera.send(timeout=60)
                time.sleep(1 / fps)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    return [threading.Thread(target=stream, args=(camera,), daemon=True) for camera in cameras]
