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

from proctoring.store import keys, scripts

CLAIM_SECONDS = 10  # from choosing a name to registering it (RQ's register_birth) takes far less
SUFFIXES = 20  # `.2` to `.20` tried in turn, then a random one


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
    claimer = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
    candidates = [base, *(f"{base}.{n}" for n in range(2, SUFFIXES + 1))]
    for name in candidates:
        worker_key = Worker.redis_worker_namespace_prefix + name
        claim = keys.worker_name_claim(name)
        if scripts.worker_name_claim(
            connection, worker=worker_key, claim=claim, ttl=CLAIM_SECONDS, claimer=claimer
        ):
            return name
    return f"{base}.{secrets.token_hex(3)}"
