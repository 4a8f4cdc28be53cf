"""A circuit breaker for the proctoring API, shared by every worker through Redis.

After `PROCTORING_BREAKER_THRESHOLD` consecutive failed calls (the API unreachable, timing out,
or answering 5xx), the circuit opens for `PROCTORING_BREAKER_COOLDOWN` seconds: workers take no
job meanwhile, so frames wait in the queue instead of burning their attempts on a dead API.
Then one job is let through as a probe: its success closes the circuit, its failure opens it
again. The take script (`proctoring.worker.take_script`) reads the state in the same round trip as the
take; a delivered frame's success batch resets the count.
"""

from __future__ import annotations

import time
from typing import Any

import redis
from django.conf import settings

from proctoring.store import keys
from proctoring.store.connections import get_redis

# KEYS: 1 failures, 2 open. ARGV: 1 threshold, 2 cooldown (seconds), 3 now.
# Returns 1 when this failure opened the circuit.
_FAILED = """
local failures = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], 3600)
if failures >= tonumber(ARGV[1]) and redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('SET', KEYS[2], ARGV[3], 'EX', ARGV[2])
  return 1
end
return 0
"""

# Lua for the take script: whether the circuit lets `n` jobs be taken now, and how many:
# {-2} while it is open, {-3} while a probe is out (half-open), else on with `take_n`.
# Uses KEYS[6] open, KEYS[7] failures, KEYS[8] probe; ARGV[12] threshold, ARGV[13] cooldown.
TAKE_GATE = """
local take_n = tonumber(ARGV[1])
local threshold = tonumber(ARGV[12])
if threshold > 0 then
  if redis.call('EXISTS', KEYS[6]) == 1 then return {-2} end
  if tonumber(redis.call('GET', KEYS[7]) or '0') >= threshold then
    if not redis.call('SET', KEYS[8], '1', 'NX', 'EX', ARGV[13]) then return {-3} end
    take_n = 1
  end
end
"""

_scripts: dict[int, Any] = {}


def enabled() -> bool:
    return bool(settings.PROCTORING_BREAKER_THRESHOLD)


def record_failure(connection: redis.Redis | None = None) -> bool:
    """Counts one failed call; returns True when it opened the circuit."""
    if not enabled():
        return False
    connection = connection or get_redis()
    script = _scripts.get(id(connection))
    if script is None:
        script = _scripts.setdefault(id(connection), connection.register_script(_FAILED))
    opened = script(
        keys=[keys.api_failures(), keys.api_circuit_open()],
        args=[settings.PROCTORING_BREAKER_THRESHOLD, settings.PROCTORING_BREAKER_COOLDOWN, time.time()],
    )
    return bool(opened)


def record_success(pipe: Any) -> None:
    """On a delivered frame's pipeline: the API answered, so the count starts again."""
    pipe.delete(keys.api_failures(), keys.api_probe())


def release_probe(pipe: Any) -> None:
    """On the pipeline of a job that ended without calling the API (a stale frame)."""
    pipe.delete(keys.api_probe())


def state(connection: redis.Redis | None = None) -> dict[str, Any]:
    """open (bool), seconds until a probe (when open), consecutive failures, threshold."""
    connection = connection or get_redis()
    with connection.pipeline(transaction=False) as pipe:
        pipe.ttl(keys.api_circuit_open())
        pipe.get(keys.api_failures())
        ttl, failures = pipe.execute()
    return {
        "open": ttl is not None and ttl > 0,
        "retry_in_s": ttl if ttl and ttl > 0 else None,
        "failures": int(failures or 0),
        "threshold": settings.PROCTORING_BREAKER_THRESHOLD,
    }
