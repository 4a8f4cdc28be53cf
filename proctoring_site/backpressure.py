"""A camera that sends faster than its gateway handles stops being read, so TCP pushes back on
it, instead of the gateway holding its unread frames in memory.

daphne reads every socket as fast as data comes and queues each WebSocket message for the
application (an unbounded asyncio.Queue per connection): a gateway starved of CPU, or waiting on
a slow Redis, grows by every frame its cameras send meanwhile. Here, below Channels: when a
connection has `HIGH` messages its consumer has not taken yet, its transport stops reading
(Twisted's `pauseProducing`); when the consumer has taken them down to `LOW`, it reads again.
The frames stay in the sender's socket buffers and the kernel's, not in the gateway, and the
camera's sends wait (the exam page already sends no faster than it is acked).

The only door to daphne's internals: its WebSocket protocol class (subclassed) and the type of
the per-connection queue it is handed (`asyncio.Queue`, given this subclass's `_get`).
`install()` runs in the gateway process only (`proctoring_site.asgi`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from daphne.ws_protocol import WebSocketFactory, WebSocketProtocol

from proctoring.queue import metrics
from proctoring.store import keys

log = logging.getLogger(__name__)

HIGH = 4  # messages waiting for the consumer: stop reading the socket
LOW = 1  # and read again once the consumer has taken them down to this


class _PushBackQueue(asyncio.Queue):  # type: ignore[type-arg]
    """The connection's queue; taking from it resumes reading the socket it paused."""

    paused_transport: Any = None

    def _get(self) -> Any:
        item = super()._get()
        transport = self.paused_transport
        if transport is not None and self.qsize() <= LOW:
            self.paused_transport = None
            transport.resumeProducing()
        return item


class PushBackProtocol(WebSocketProtocol):  # type: ignore[misc]
    def applicationCreateWorked(self, application_queue: asyncio.Queue[Any]) -> None:  # noqa: N802
        # The queue is daphne's own object, already handed to the application's `receive`;
        # giving it the subclass's type keeps every reference to it.
        application_queue.__class__ = _PushBackQueue
        super().applicationCreateWorked(application_queue)

    def onMessage(self, payload: bytes, isBinary: bool) -> None:  # noqa: N802, N803
        super().onMessage(payload, isBinary)
        queue = getattr(self, "application_queue", None)
        if isinstance(queue, _PushBackQueue) and queue.paused_transport is None and queue.qsize() >= HIGH:
            queue.paused_transport = self.transport
            self.transport.pauseProducing()
            metrics.recorder.count(keys.GATEWAY_READS_PAUSED)
            log.debug(
                "stopped reading %s: %d messages wait for its consumer", self.client_addr, queue.qsize()
            )


def install() -> None:
    """Makes daphne's WebSocket factory build `PushBackProtocol`s (before any connection)."""
    WebSocketFactory.protocol = PushBackProtocol
