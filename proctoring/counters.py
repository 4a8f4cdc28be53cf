"""Per-client counts of frames by state, kept in Redis and moved atomically with each job, so
that the admin and `proctoring_stats` read O(clients) keys, never every job.

Each frame job carries the state it is counted in in its own hash (field `pc`: q queued,
r running, s waiting to retry, f failed), and every transition runs one Lua function that moves
the job from that state to the new one, in the same atomic step as the transition itself where
the transition is ours (enqueue, take, success), or right beside RQ's where it is RQ's (retry,
final failure, requeue). A transition made twice moves nothing the second time, and one RQ makes
without us (a requeue from django-rq's page, an abandoned job retried by RQ's cleanup) is put
right at the job's next transition instead of leaving the counts off for ever. Failed frames are
a sorted set per client scored by when RQ's failed registry lets them expire, so the failed count
follows RQ's expiry by itself.

A frame job's client is read from its description, which the enqueue writes as
"frame <client id>#<seq>" (`queues._description`).
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

import redis
from rq.job import Job

from proctoring import keys
from proctoring.connections import get_redis

FRAME_JOB = "proctoring.jobs.forward_frame_job"  # the function of every frame job
QUEUED, RUNNING, RETRYING, FAILED, DONE = "q", "r", "s", "f", "x"
FIELDS = {QUEUED: "queued", RUNNING: "running", RETRYING: "retrying"}
COUNTS_TTL = 8 * 24 * 3600  # a client's counts outlive a week of silence (refreshed by each frame)
MINUTE_TTL = 3700  # per-minute throughput buckets are kept a little over an hour

# pc_move(job key, job id, client key prefix, to, failed expiry, extra counter): see above.
# `extra` (e.g. "completed:2026-11-29", "stale") is counted once, on the move to DONE; on the
# move to FAILED it is the error's kind (exception class), indexed for the failed-jobs page.
PC_MOVE = (
    f"""
local FAILED_KINDS = '{keys.FAILED_KINDS}'
local FAILED_KIND_PREFIX = '{keys.FAILED_KIND_PREFIX}'
"""
    + """
local PC_FIELDS = {q = 'queued', r = 'running', s = 'retrying'}
local function pc_move(jkey, id, prefix, to, expire_at, extra)
  local description = redis.call('HGET', jkey, 'description')
  if not description then return 0 end
  local client = string.match(description, '^frame (.*)#%-?%d+$')
  if not client then return 0 end
  local from = redis.call('HGET', jkey, 'pc')
  if from == to then return 0 end
  local base = prefix .. client
  if from == 'f' then
    redis.call('ZREM', base .. ':failed', id)
    for _, kind in ipairs(redis.call('SMEMBERS', FAILED_KINDS)) do
      redis.call('ZREM', FAILED_KIND_PREFIX .. kind, id)
    end
  elseif from and PC_FIELDS[from] then
    redis.call('HINCRBY', base .. ':counts', PC_FIELDS[from], -1)
  end
  if to == 'f' then
    redis.call('ZADD', base .. ':failed', expire_at, id)
    redis.call('EXPIREAT', base .. ':failed', math.floor(tonumber(expire_at)) + 86400)
    if extra and extra ~= '' then
      redis.call('SADD', FAILED_KINDS, extra)
      redis.call('ZADD', FAILED_KIND_PREFIX .. extra, expire_at, id)
    end
  elseif PC_FIELDS[to] then
    redis.call('HINCRBY', base .. ':counts', PC_FIELDS[to], 1)
  end
  if to == 'x' then
    if extra and extra ~= '' then redis.call('HINCRBY', base .. ':counts', extra, 1) end
  else
    redis.call('HSET', jkey, 'pc', to)
  end
  return 1
end
"""
)

# KEYS: 1 the job's hash. ARGV: 1 job id, 2 client key prefix, 3 new state, 4 failed expiry
# (epoch seconds, for FAILED), 5 counter to add one to on DONE ("" for none).
_MOVE = PC_MOVE + "\nreturn pc_move(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5])\n"

_scripts: dict[int, Any] = {}


def _script(connection: redis.Redis) -> Any:
    script = _scripts.get(id(connection))
    if script is None:
        script = _scripts.setdefault(id(connection), connection.register_script(_MOVE))
    return script


def move(
    job_id: str,
    to: str,
    *,
    pipeline: Any = None,
    connection: redis.Redis | None = None,
    failed_ttl: int = 0,
    extra: str = "",
) -> None:
    """Moves frame job `job_id` to state `to` in its client's counts (on `pipeline` if given:
    redis-py loads the script before the pipeline runs, should Redis have lost it)."""
    connection = connection or get_redis()
    expire_at = time.time() + failed_ttl if to == FAILED else 0
    _script(connection)(
        keys=[Job.key_for(job_id)],
        args=[job_id, keys.CLIENT_PREFIX, to, repr(expire_at), extra],
        client=pipeline if pipeline is not None else connection,
    )


_DESCRIPTION = re.compile(r"^frame (.*)#(-?\d+)$")


def frame_of(job: Job) -> tuple[str, int] | None:
    """The client and seq of a frame job (from its description), None for any other job."""
    if job.func_name != FRAME_JOB or not job.description:
        return None
    match = _DESCRIPTION.match(job.description)
    return (match.group(1), int(match.group(2))) if match else None


def client_of(job: Job) -> str | None:
    """The client of a frame job (from its description), None for any other job."""
    ref = frame_of(job)
    return ref[0] if ref else None


def minute_key(at: float | None = None) -> str:
    return keys.minute(int((at if at is not None else time.time()) // 60))


def count_minute(pipe: Any, field: str, at: float | None = None) -> None:
    """Adds one to this minute's `field` (received, completed, failed)."""
    key = minute_key(at)
    pipe.hincrby(key, field, 1)
    pipe.expire(key, MINUTE_TTL)


def completed_field(day: datetime | None = None) -> str:
    return f"completed:{(day or datetime.now(UTC)).date().isoformat()}"


def read(client_ids: list[str], connection: redis.Redis | None = None) -> dict[str, dict[str, Any]]:
    """Each client's counts: queued, running, retrying, failed, completed today, stale, last
    frame time (epoch seconds or None). Two commands per client, in one round trip."""
    connection = connection or get_redis()
    now = time.time()
    today = completed_field()
    with connection.pipeline(transaction=False) as pipe:
        for client_id in client_ids:
            pipe.hgetall(keys.client_counts(client_id))
            pipe.zcount(keys.client_failed(client_id), now, "+inf")
        answers = pipe.execute()
    figures: dict[str, dict[str, Any]] = {}
    for index, client_id in enumerate(client_ids):
        counts = {k.decode(): v.decode() for k, v in answers[2 * index].items()}
        last = counts.get("last_frame_at")
        figures[client_id] = {
            "queued": max(0, int(counts.get("queued", 0))),
            "running": max(0, int(counts.get("running", 0))),
            "retrying": max(0, int(counts.get("retrying", 0))),
            "failed": int(answers[2 * index + 1]),
            "completed_today": int(counts.get(today, 0)),
            "stale": int(counts.get("stale", 0)),
            "last_frame_at": float(last) if last else None,
        }
    return figures


def clients(connection: redis.Redis | None = None, since: float = 0.0) -> list[str]:
    """Every client that sent a frame since `since` (epoch seconds), most recent first."""
    connection = connection or get_redis()
    # Clients silent for longer than their counts are kept leave the index too.
    connection.zremrangebyscore(keys.clients_index(), "-inf", time.time() - COUNTS_TTL)
    members: list[bytes] = connection.zrevrangebyscore(keys.clients_index(), "+inf", since)  # type: ignore[assignment]
    return [member.decode() for member in members]
