"""The camera WebSocket: authenticate once, then validate and enqueue each frame, and say so;
tell the page its attempt's state and its proctor's messages, and close when the attempt ends.

Nothing else happens here: no API calls, no database on the frame path, no blocking I/O on
the event loop (the enqueue uses an asyncio Redis client; the ack waits for Redis's answer).
The attempt's news comes from this process's one subscription (`proctoring.gateway.control`).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
import weakref
from typing import Any

import redis
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from django.conf import settings

from proctoring.core import events, protocol
from proctoring.core.access import StreamRefused, scope_header
from proctoring.core.exceptions import AdmissionError, FrameError, FramesRefused, QueueFull, QueueUnavailable
from proctoring.core.frames import Frame, parse_image, parse_message_read, parse_text_message
from proctoring.core.protocol import CloseCode, ErrorCode
from proctoring.gateway import connection_limits, control, loop_lag
from proctoring.gateway.auth import StreamIdentity, open_stream, presented_token
from proctoring.gateway.throttle import MIN_FPS, advised_fps
from proctoring.queue import enqueue, metrics
from proctoring.results import attempt_control
from proctoring.store import shards
from proctoring.store.connections import get_async_redis

log = logging.getLogger(__name__)


class FrameConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]
    # A camera socket receives nothing over the channel layer (it only publishes its connection
    # events), so it does not listen on one: Channels closes a consumer whose layer read fails
    # (every camera would drop with 1011 while Redis restarts, instead of hearing `unavailable`),
    # and a thousand cameras would hold a thousand blocking reads on Redis for nothing.
    channel_layer_alias = "camera sockets listen on no channel layer"
    identity: StreamIdentity | None = None
    seq = 0
    fps_told: float | None = None  # the rate this client was last asked for
    heard_at = 0.0  # when the client last sent anything (monotonic)
    idle_watch: asyncio.Task[None] | None = None
    slot: connection_limits.Slot | None = None  # its place under the connection limits
    # The attempt's news heard while its state is read at connect: passed on after it.
    held: list[tuple[str, bool]] | None = None
    listening: str | None = None  # the attempt whose news it hears (`control`)
    ended = False  # the attempt's final state was sent: the socket is closing

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels runs `close_old_connections` in a thread before every message (a thread hop
        # per frame), and twice more at a disconnect. Frames and disconnects never touch the
        # database, and the connect's one read (`open_stream`) closes old connections in its
        # own hop: two hundred cameras joining or leaving at once would otherwise queue ~600
        # hops on the one database thread, each taking the GIL from the event loop.
        kind = message["type"]
        if kind == "websocket.receive" and self.identity is not None:
            await self.websocket_receive(message)
        elif kind == "websocket.connect":
            await self.websocket_connect(message)
        elif kind == "websocket.disconnect":
            await self.disconnect(message["code"])  # in no group: nothing to discard
            raise StopConsumer()
        else:
            await super().dispatch(message)

    async def connect(self) -> None:
        # Everything from the client (the id in the URL, its address, its origin) is logged
        # with %r: a raw newline in the path would forge a log line.
        attempt_id = str(self.scope["url_route"]["kwargs"]["attempt_id"])
        origin = scope_header(self.scope, b"origin")
        # The attempt's news is listened for before its row is read, once, to authorize and to
        # greet: what is heard meanwhile waits in `held` and follows the greeting, so the read
        # cannot overwrite it. An id that is no attempt's listens for nothing, and is refused.
        self.held = []
        self.listening = _attempt_key(attempt_id)
        if self.listening is not None:
            await control.register(self.listening, self)
        try:
            token = presented_token(
                scope_header(self.scope, b"authorization"), self.scope.get("query_string", b"")
            )
            self.identity, told = await database_sync_to_async(open_stream)(
                attempt_id, self.scope.get("user"), token, origin, scope_header(self.scope, b"host")
            )
        except StreamRefused as refused:
            self._stop_listening()
            log.info("refused stream for attempt %r: %s", attempt_id, refused.reason)
            # Accept first so that the client sees why: a refused handshake carries no code.
            await self.accept()
            await self.close(code=refused.close_code, reason=refused.reason)
            return
        client = self.scope.get("client") or (None, None)
        try:
            self.slot = await connection_limits.admit(client[0], self.identity.attempt_id)
        except connection_limits.TooManyConnections as too_many:
            log.info("refused stream for attempt %r from %r: %s", attempt_id, client[0], too_many.reason)
            self._stop_listening()
            self.identity = None
            await self.accept()
            await self.close(code=CloseCode.TOO_MANY_CONNECTIONS, reason=too_many.reason)
            return
        try:
            with shards.client_shard(self.identity.client_id):
                await enqueue.aprepare()
        except QueueUnavailable as exc:
            log.warning("client %r connected while the queue is unavailable: %s", attempt_id, exc)
        await self.accept()
        _keep_writing_metrics()
        loop_lag.start()
        self.heard_at = time.monotonic()
        if settings.PROCTORING_IDLE_TIMEOUT:
            self.idle_watch = asyncio.create_task(self._close_when_idle(settings.PROCTORING_IDLE_TIMEOUT))
        await events.apublish_connection(get_channel_layer(), events.CONNECTED, self.identity.client_id)
        await self._greet(told)

    def _stop_listening(self) -> None:
        self.held = None
        if self.listening is not None:
            control.unregister(self.listening, self)
            self.listening = None

    async def _greet(self, told: attempt_control.Greeting) -> None:
        """Tells the page its attempt's state and unread messages (`told`, read at connect),
        then what was heard since the read."""
        held, self.held = self.held or [], None
        for index, payload in enumerate(told.messages):
            await self.control(payload, told.ended and index == len(told.messages) - 1)
        for payload, final in held:
            await self.control(payload, final)

    async def control(self, payload: str, final: bool) -> None:
        """Passes on a protocol message about the attempt; after a `final` one, the attempt has
        ended and the socket closes with `ATTEMPT_ENDED` (frames acked before stay queued)."""
        if self.held is not None:
            self.held.append((payload, final))
            return
        if self.ended:
            return
        await self.send(text_data=payload)
        if final:
            self.ended = True
            await self.close(code=CloseCode.ATTEMPT_ENDED, reason="this attempt has ended")

    async def disconnect(self, code: int) -> None:
        if self.idle_watch is not None:
            self.idle_watch.cancel()
        self._stop_listening()
        await connection_limits.release(self.slot)
        self.slot = None
        if self.identity is not None:
            await events.apublish_connection(
                get_channel_layer(), events.DISCONNECTED, self.identity.client_id
            )

    async def _close_when_idle(self, timeout: float) -> None:
        """A socket that sends nothing for `timeout` seconds holds a connection for nobody (a
        closed laptop, a dead client behind a proxy): it is closed, and a live page reconnects."""
        while True:
            left = self.heard_at + timeout - time.monotonic()
            if left <= 0:
                log.info(
                    "closing the idle stream of client %s", self.identity.client_id if self.identity else "?"
                )
                await self.close(code=CloseCode.IDLE, reason=f"nothing received for {timeout:g} s")
                return
            await asyncio.sleep(left)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.identity is None or self.ended:
            return
        self.heard_at = time.monotonic()
        if text_data is not None and await self._read_receipt(text_data):
            return
        self.seq += 1
        seq = self.seq
        try:
            frame = self._parse(text_data, bytes_data)
            started = time.perf_counter()
            # A connection's first frame jumps the queue: the proctor sees a new (or
            # reconnected) exam taker at once, whatever the backlog.
            with shards.client_shard(self.identity.client_id):
                enqueued = await enqueue.aenqueue_frame(
                    self.identity.client_id, self.identity.attempt_id, seq, frame, priority=seq == 1
                )
            metrics.recorder.observe(
                "enqueue", (time.perf_counter() - started) * 1000, metrics.ENQUEUE_BUCKETS_MS
            )
        except (FrameError, AdmissionError) as exc:
            metrics.recorder.count(f"rejected:{exc.code.value}")
            await self.send(text_data=protocol.error(seq, exc.code, str(exc)))
            if isinstance(exc, (QueueFull, FramesRefused)):
                await self._tell_rate(MIN_FPS)
            return
        except Exception:
            log.exception("frame %s of client %s could not be queued", seq, self.identity.client_id)
            await self.send(
                text_data=protocol.error(seq, ErrorCode.UNAVAILABLE, "internal error; send the frame again")
            )
            return
        await self.send(
            text_data=protocol.ack(
                seq, enqueued.job_id, paused=enqueued.paused, hint=enqueued.hint, replaced=enqueued.replaced
            )
        )
        await self._tell_rate(
            advised_fps(
                enqueued.queued,
                settings.PROCTORING_MAX_QUEUED,
                settings.PROCTORING_CLIENT_FPS,
                enqueued.refusals,
                settings.PROCTORING_REFUSALS_TO_SLOW,
            )
        )

    async def _read_receipt(self, text_data: str) -> bool:
        """Handles a `message_read` (not a frame: no seq of its own; errors carry seq 0).
        Returns False if `text_data` is not one."""
        assert self.identity is not None
        try:
            message_id = parse_message_read(text_data)
        except FrameError as exc:
            await self.send(text_data=protocol.error(0, exc.code, str(exc)))
            return True
        if message_id is None:
            return False
        marked = await database_sync_to_async(attempt_control.mark_read)(self.identity.attempt_id, message_id)
        if not marked:
            detail = f"no message {message_id} for this attempt"
            await self.send(text_data=protocol.error(0, ErrorCode.BAD_MESSAGE, detail))
        return True

    async def _tell_rate(self, fps: float) -> None:
        """Asks the client to send at `fps` when that differs from what it was last told."""
        if fps == (self.fps_told or settings.PROCTORING_CLIENT_FPS):
            return
        self.fps_told = fps
        await self.send(text_data=protocol.throttle(fps))

    def _parse(self, text_data: str | None, bytes_data: bytes | None) -> Frame:
        limit, pixels = settings.PROCTORING_MAX_FRAME_BYTES, settings.PROCTORING_MAX_FRAME_PIXELS
        if bytes_data is not None:
            return parse_image(bytes_data, limit, max_pixels=pixels)
        return parse_text_message(text_data or "", limit, max_pixels=pixels)


# The task writing this process's figures, per event loop (daphne runs one).
_writers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Task[None]] = (
    weakref.WeakKeyDictionary()
)


def _attempt_key(attempt_id: str) -> str | None:
    """The id as the attempt's news names it (`str` of its UUID), or None if it is no UUID."""
    try:
        return str(uuid.UUID(attempt_id))
    except ValueError:
        return None


def _keep_writing_metrics() -> None:
    """Starts, once per event loop, the task that writes the gateway's figures to Redis every
    `metrics.FLUSH_EVERY` seconds while it has any. A timer, not a write after each ack: a
    gateway that refuses everything (a full queue's very case) sends no ack, and its refusals
    must still reach Redis for their alert to fire."""
    loop = asyncio.get_running_loop()
    writer = _writers.get(loop)
    if writer is None or writer.done():
        _writers[loop] = loop.create_task(_write_metrics_every(metrics.FLUSH_EVERY))


async def _write_metrics_every(seconds: float) -> None:
    while True:
        await asyncio.sleep(seconds)
        if metrics.recorder.pending():
            await _flush_metrics()


async def _flush_metrics() -> None:
    try:
        await metrics.recorder.aflush(get_async_redis())
    except redis.RedisError as exc:  # figures only: the frames are answered already
        log.warning("could not write the gateway's metrics: %s", exc)
