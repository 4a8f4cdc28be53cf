"""Worker names an operator can read: `<short hostname>.<pid>` (`web-3.4182`), unique in Redis.

RQ names a worker by a random uuid unless told otherwise, and refuses to start one whose name
belongs to a worker still registered ("There exists an active worker named ..."). A name made of
host and pid is unique among live processes, except where the same host name and pid come back
while the old worker's key lives on: a container restarted with pid 1 under the same host name
after its worker was killed (its key outlives it by RQ's worker TTL, minutes), two containers on
the host's network (same host name, both pid 1), or two machines whose short names agree. Then the
name gets a suffix (`.2`, `.3`, ...) instead of the worker failing to start.

A name is claimed for a few seconds when chosen (`keys.worker_name_claim`), so that two workers
starting at once cannot both choose the same free name before either registers it.
"""

from __future__ import annotations

import os
import secrets
import socket

import redis
from rq.worker import Worker

from proctoring.store import keys

CLAIM_SECONDS = 10  # from choosing a name to registering it (RQ's register_birth) takes far less
SUFFIXES = 20  # `.2` to `.20` tried in turn, then a random one

# KEYS: 1 RQ's worker key of the name, 2 the name's claim. ARGV: 1 claim TTL (s), 2 claimer.
# Free unless a worker of that name is registered and has not died (RQ's own test in
# `register_birth`) or someone else claimed the name moments ago.
_CLAIM = """
if redis.call('EXISTS', KEYS[1]) == 1 and redis.call('HEXISTS', KEYS[1], 'death') == 0 then
  return 0
end
if redis.call('SET', KEYS[2], ARGV[2], 'NX', 'EX', ARGV[1]) then return 1 end
return 0
"""


def base_name(hostname: str | None = None, pid: int | None = None) -> str:
    """`<short hostname>.<pid>` of this process (or of the ones given)."""
    host = (hostname if hostname is not None else socket.gethostname()).split(".")[0].strip() or "worker"
    return f"{host}.{pid if pid is not None else os.getpid()}"


def unique_name(connection: redis.Redis, base: str | None = None) -> str:
    """`base` (default: `base_name()`) if no live worker holds it, else the first of `base.2`,
    `base.3`, ... that is free, else `base.<6 random hex digits>`; claimed for `CLAIM_SECONDS`.

    Raises:
        redis.RedisError: Redis could not be asked.
    """
    base = base or base_name()
    claim = connection.register_script(_CLAIM)
    claimer = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
    candidates = [base, *(f"{base}.{n}" for n in range(2, SUFFIXES + 1))]
    for name in candidates:
        worker_key = Worker.redis_worker_namespace_prefix + name
        if claim(keys=[worker_key, keys.worker_name_claim(name)], args=[CLAIM_SECONDS, claimer]):
            return name
    return f"{base}.{secrets.token_hex(3)}"
