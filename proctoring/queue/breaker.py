"""A circuit breaker for the proctoring API, shared by every worker through Redis.

After `PROCTORING_BREAKER_THRESHOLD` consecutive failed calls (the API unreachable, timing out,
or answering 5xx), the circuit opens for `PROCTORING_BREAKER_COOLDOWN` seconds: workers take no
job meanwhile, so frames wait in the queue instead of burning their attempts on a dead API.
Then one job is let through as a probe: its success closes the circuit, its failure opens it
again. The take script (proctoring/store/scripts/take.lua) reads the state in the same round trip as the
take; a delivered frame's success batch resets the count.
"""

from __future__ import annotations

import time
from typing import Any

import redis
from django.conf import settings

from proctoring.store import keys, scripts
from proctoring.store.connections import get_redis


def enabled() -> bool:
    return bool(settings.PROCTORING_BREAKER_THRESHOLD)


def record_failure(connection: redis.Redis | None = None) -> bool:
    """Counts one failed call; returns True when it opened the circuit."""
    if not enabled():
        return False
    return scripts.breaker_failure(
        connection or get_redis(),
        api_failures=keys.api_failures(),
        circuit_open=keys.api_circuit_open(),
        threshold=settings.PROCTORING_BREAKER_THRESHOLD,
        cooldown=settings.PROCTORING_BREAKER_COOLDOWN,
        now=time.time(),
    )


def record_success(pipe: Any) -> None:
    """On a delivered frame's pipeline: the API answered, so the count starts again."""
    pipe.delete(keys.api_failures(), keys.api_probe())


def release_probe(pipe: Any) -> None:
    """On the pipeline of a job that ended without calling the API (a frame expired past the backfill
    horizon)."""
    pipe.delete(keys.api_probe())


CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"


def state(connection: redis.Redis | None = None) -> dict[str, Any]:
    """The circuit as the take script sees it (`take_gate.lua`): `state` closed, open (no job
    taken until the cooldown ends, `retry_in_s`), or half-open (the cooldown ended with the
    failures still at the threshold: one probe job goes through, `probing` while it is out; the
    workers take nothing else meanwhile). `open` is true unless closed. With the consecutive
    `failures` and the `threshold`."""
    connection = connection or get_redis()
    with connection.pipeline(transaction=False) as pipe:
        pipe.ttl(keys.api_circuit_open())
        pipe.get(keys.api_failures())
        pipe.exists(keys.api_probe())
        ttl, failures, probe = pipe.execute()
    failures = int(failures or 0)
    threshold = settings.PROCTORING_BREAKER_THRESHOLD
    if not enabled():
        now = CLOSED
    elif ttl is not None and ttl > 0:
        now = OPEN
    elif failures >= threshold:
        now = HALF_OPEN
    else:
        now = CLOSED
    return {
        "state": now,
        "open": now != CLOSED,
        "retry_in_s": ttl if now == OPEN else None,
        "probing": now == HALF_OPEN and bool(probe),
        "failures": failures,
        "threshold": threshold,
    }


def close(connection: redis.Redis | None = None) -> dict[str, Any]:
    """Closes the circuit by hand (an operator who knows the API is back): the failures count
    from zero, and a probe still out is forgotten (its outcome counts like any call's).
    Returns the state it had."""
    connection = connection or get_redis()
    before = state(connection)
    connection.delete(keys.api_circuit_open(), keys.api_failures(), keys.api_probe())
    return before
