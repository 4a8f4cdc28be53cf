"""The gateway's ear for attempts: one Redis pub/sub subscription per event loop (daphne runs
one per process) on `keys.attempt_control_channel()`, whose envelopes (an attempt's new state,
a proctor's message; `proctoring.results.attempt_control.publish`) go to this process's open
camera sockets of that attempt.

Camera sockets listen on no channel layer (see `FrameConsumer`): one subscription per process
instead of one blocking read per socket. Publishing is fire-and-forget, so a subscription that
drops misses what was published meanwhile: after each resubscribe every socket is told its
attempt's state again, from the database; and every `ENDED_CHECK_EVERY` seconds one query finds
the sockets whose attempt ended unheard (its publish lost), to close them. Envelopes come from
our own processes, but are bounded all the same: one too large or malformed is logged and dropped.
"""

from __future__ import annotations

import asyncio
import json
import logging
import weakref
from dataclasses import dataclass
from typing import Any, Protocol

import redis
from channels.db import database_sync_to_async

from proctoring.results import attempt_control
from proctoring.store import keys, shards
from proctoring.store.connections import get_async_redis

log = logging.getLogger(__name__)

MAX_ENVELOPE_BYTES = 16 * 1024  # a state or a message of at most 1,000 characters, with room
READY_WAIT = 2.0  # seconds a connecting socket waits for the subscription before going on
BACKOFF_FIRST, BACKOFF_MAX = 0.5, 10.0  # seconds between tries to resubscribe
POLL = 1.0  # seconds each read of the subscription waits for a message
# Seconds between looks in the database for this process's sockets whose attempt has ended: a
# publish lost with Redis (the publisher's side) still closes them, this much later at most.
ENDED_CHECK_EVERY = 30.0


class Listener(Protocol):
    """A camera socket, as the subscriber sees it."""

    async def control(self, payload: str, final: bool) -> None: ...


@dataclass(frozen=True)
class Envelope:
    attempt: str
    payload: str
    final: bool


def parse_envelope(raw: Any) -> Envelope | None:
    """The envelope in a pub/sub message's data, or None (logged) if it is not one."""
    if not isinstance(raw, bytes | str):
        log.warning("ignored an attempt-control message of type %s", type(raw).__name__)
        return None
    if len(raw) > MAX_ENVELOPE_BYTES:
        log.warning("ignored an attempt-control message of %d bytes (cap %d)", len(raw), MAX_ENVELOPE_BYTES)
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        log.warning("ignored an attempt-control message that is not JSON: %r", raw[:100])
        return None
    if not (
        isinstance(data, dict)
        and isinstance(data.get("attempt"), str)
        and isinstance(data.get("payload"), str)
        and isinstance(data.get("final", False), bool)
    ):
        log.warning("ignored a malformed attempt-control message: %r", raw[:100])
        return None
    return Envelope(data["attempt"], data["payload"], data.get("final", False))


class Subscriber:
    """The subscription of one event loop, and the sockets it serves (by attempt id)."""

    def __init__(self) -> None:
        self.listeners: dict[str, weakref.WeakSet[Any]] = {}
        self.subscribed = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.watch_task: asyncio.Task[None] | None = None
        self.subscriptions = 0  # how many times it has subscribed (for the resync and tests)

    def add(self, attempt_id: str, listener: Listener) -> None:
        self.listeners.setdefault(attempt_id, weakref.WeakSet()).add(listener)

    def discard(self, attempt_id: str, listener: Listener) -> None:
        sockets = self.listeners.get(attempt_id)
        if sockets is not None:
            sockets.discard(listener)
            if not sockets:
                del self.listeners[attempt_id]

    async def deliver(self, envelope: Envelope) -> None:
        for listener in list(self.listeners.get(envelope.attempt, ())):
            await _tell(listener, envelope.payload, envelope.final)

    async def run(self) -> None:
        """Subscribes, and again after every loss of Redis (with backoff), for ever."""
        delay = BACKOFF_FIRST
        while True:
            before = self.subscriptions
            try:
                with shards.using(attempt_control.control_redis_url()):
                    pubsub = get_async_redis().pubsub()
                try:
                    await self._listen(pubsub)
                finally:
                    self.subscribed.clear()
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
            except (redis.RedisError, OSError, TimeoutError) as exc:
                log.warning("attempt-control subscription lost (%s); subscribing again", exc)
            except Exception:
                log.exception("attempt-control subscription failed; subscribing again")
            if self.subscriptions > before:  # it stood a while: start the backoff over
                delay = BACKOFF_FIRST
            await asyncio.sleep(delay)
            delay = min(delay * 2, BACKOFF_MAX)

    async def _listen(self, pubsub: Any) -> None:
        await pubsub.subscribe(keys.attempt_control_channel())
        # Subscribed once Redis confirms: a publish after that reaches us.
        while True:
            message = await pubsub.get_message(timeout=POLL)
            if message is not None and message["type"] == "subscribe":
                break
        self.subscriptions += 1
        self.subscribed.set()
        if self.subscriptions > 1:
            await self.resync()
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=POLL)
            if message is None or message.get("type") != "message":
                continue
            envelope = parse_envelope(message["data"])
            if envelope is not None:
                await self.deliver(envelope)

    async def watch(self) -> None:
        """Closes, every `ENDED_CHECK_EVERY` s, the sockets whose attempt has ended unheard."""
        while True:
            await asyncio.sleep(ENDED_CHECK_EVERY)
            try:
                await self.close_ended()
            except Exception:  # the database away: the next round tries again
                log.exception("could not look for this gateway's ended attempts")

    async def close_ended(self) -> None:
        attempt_ids = list(self.listeners)
        if not attempt_ids:
            return
        for attempt_id in await database_sync_to_async(attempt_control.ended_among)(attempt_ids):
            await self.resync([attempt_id])

    async def resync(self, attempt_ids: list[str] | None = None) -> None:
        """Tells every socket (of `attempt_ids`, else all) its attempt's state (and unread
        messages) from the database."""
        for attempt_id in list(self.listeners) if attempt_ids is None else attempt_ids:
            told = await database_sync_to_async(attempt_control.greeting)(attempt_id)
            for listener in list(self.listeners.get(attempt_id, ())):
                for index, payload in enumerate(told.messages):
                    await _tell(listener, payload, told.ended and index == len(told.messages) - 1)


async def _tell(listener: Listener, payload: str, final: bool) -> None:
    try:
        await listener.control(payload, final)
    except Exception:  # one socket's failure is not the others'
        log.exception("could not pass an attempt-control message to a socket")


# One subscriber per event loop.
_subscribers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Subscriber] = weakref.WeakKeyDictionary()


def subscriber() -> Subscriber:
    """This event loop's subscriber, started on first use (and again if its task ended)."""
    loop = asyncio.get_running_loop()
    current = _subscribers.get(loop)
    if current is None:
        current = _subscribers[loop] = Subscriber()
    if current.task is None or current.task.done():
        current.task = loop.create_task(current.run())
    if current.watch_task is None or current.watch_task.done():
        current.watch_task = loop.create_task(current.watch())
    return current


async def register(attempt_id: str, listener: Listener) -> None:
    """Passes `attempt_id`'s envelopes to `listener` from now on; returns once the subscription
    stands (or after `READY_WAIT` s if Redis is away: the resync catches the socket up later)."""
    current = subscriber()
    current.add(attempt_id, listener)
    if current.subscribed.is_set():
        return
    try:
        await asyncio.wait_for(current.subscribed.wait(), READY_WAIT)
    except TimeoutError:
        log.warning("attempt-control subscription not ready; the socket of %s goes on without it", attempt_id)


def unregister(attempt_id: str, listener: Listener) -> None:
    current = _subscribers.get(asyncio.get_running_loop())
    if current is not None:
        current.discard(attempt_id, listener)
