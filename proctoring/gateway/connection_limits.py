"""How many camera sockets one IP address and one attempt may hold at once, across every gateway.

Each open socket is a member of two sorted sets in Redis (its IP's and its attempt's), scored by
when its lease runs out. A gateway renews the leases of the sockets it holds every third of a
lease, and removes a socket when it closes; a gateway that dies without closing its sockets
leaves members that expire by themselves within a lease. So the limits hold across any number
of gateway processes, and a crashed one does not lock anyone out for longer than a lease.

A socket that arrives while Redis cannot be asked is let in, uncounted: the limits guard
against abuse, and an exam taker must not lose the connection to a Redis restart (its frames
are refused `unavailable` until Redis is back anyway).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
import weakref
from dataclasses import dataclass

import redis
import redis.asyncio
from django.conf import settings

from proctoring.store import keys, scripts
from proctoring.store.connections import get_async_redis

log = logging.getLogger(__name__)

LEASE_SECONDS = 90


class TooManyConnections(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Slot:
    """One admitted socket's place in its IP's and its attempt's sets."""

    member: str
    ip_key: str
    attempt_key: str


# The sockets this process holds, renewed together by one task per event loop.
_held: dict[str, Slot] = {}
_renewers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Task[None]] = (
    weakref.WeakKeyDictionary()
)


async def admit(ip: str | None, attempt_id: str) -> Slot | None:
    """Takes a place for a new socket, or raises TooManyConnections; None when no limit is set
    or Redis cannot be asked (the socket is let in uncounted)."""
    ip_limit = settings.PROCTORING_MAX_CONNECTIONS_PER_IP
    attempt_limit = settings.PROCTORING_MAX_CONNECTIONS_PER_ATTEMPT
    if not ip_limit and not attempt_limit:
        return None
    slot = Slot(
        uuid.uuid4().hex, keys.connections_of_ip(ip or "unknown"), keys.connections_of_attempt(attempt_id)
    )
    now = time.time()
    try:
        verdict = await scripts.connection_admit(
            get_async_redis(),
            ip_sockets=slot.ip_key,
            attempt_sockets=slot.attempt_key,
            now=now,
            lease_end=now + LEASE_SECONDS,
            member=slot.member,
            ip_limit=ip_limit,
            attempt_limit=attempt_limit,
            lease=LEASE_SECONDS,
        )
    except redis.RedisError as exc:
        log.warning("connection limits not checked for attempt %s (Redis: %s)", attempt_id, exc)
        return None
    if verdict == 1:
        raise TooManyConnections(f"too many connections from this address (at most {ip_limit})")
    if verdict == 2:
        raise TooManyConnections(
            f"this attempt already has {attempt_limit} open streams; close the other tab or device"
        )
    _held[slot.member] = slot
    _ensure_renewing()
    return slot


async def release(slot: Slot | None) -> None:
    if slot is None:
        return
    _held.pop(slot.member, None)
    try:
        async with get_async_redis().pipeline(transaction=False) as pipe:
            pipe.zrem(slot.ip_key, slot.member)
            pipe.zrem(slot.attempt_key, slot.member)
            await pipe.execute()
    except redis.RedisError as exc:  # its lease runs out by itself
        log.warning("could not release a connection slot (Redis: %s)", exc)


async def renew_held() -> None:
    """Extends the lease of every socket this process holds (re-adding it after a Redis restart
    that lost it)."""
    slots = list(_held.values())
    if not slots:
        return
    until = time.time() + LEASE_SECONDS
    async with get_async_redis().pipeline(transaction=False) as pipe:
        for slot in slots:
            for key in (slot.ip_key, slot.attempt_key):
                pipe.zadd(key, {slot.member: until})
                pipe.expire(key, LEASE_SECONDS)
        await pipe.execute()


def _ensure_renewing() -> None:
    loop = asyncio.get_running_loop()
    task = _renewers.get(loop)
    if task is None or task.done():
        _renewers[loop] = loop.create_task(_renew_forever())


async def _renew_forever() -> None:
    while _held:
        await asyncio.sleep(LEASE_SECONDS / 3)
        try:
            await renew_held()
        except redis.RedisError as exc:
            log.warning("could not renew connection slots (Redis: %s)", exc)
