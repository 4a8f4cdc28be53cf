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

from proctoring.queue import policy
from proctoring.store import keys
from proctoring.store.connections import get_redis

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
-- A frame job's client, from its description; nil for a job gone or not a frame job.
local function client_of(jkey)
  local description = redis.call('HGET', jkey, 'description')
  if not description then return nil end
  return string.match(description, '^frame (.*)#%-?%d+$')
end
local function pc_move(jkey, id, prefix, to, expire_at, extra)
  local client = client_of(jkey)
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
    if job.func_name != policy.FRAME_JOB or not job.description:
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
            "coalesced": int(counts.get("coalesced", 0)),
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


# Puts right the counts of the clients given, from their own jobs: every job a client has
# queued, running or waiting is in its pending set (added in the enqueue's atomic step, removed
# in the same transaction as its move to done or failed), and carries the state it is counted
# in (`pc`). So for each client: ids in the pending set whose job is gone (deleted behind our
# back, e.g. from django-rq's pages) leave it; a job RQ has ended without us (an abandoned job
# failed by RQ's cleanup) is moved to failed or done; the queued, running and waiting counts
# are set to what the remaining jobs say; failed ids whose job is gone leave the failed sets.
# ARGV: 1 client key prefix, 2 job key prefix, 3 now (epoch seconds), 4.. client ids.
# Returns how many clients' counts were changed.
_RECONCILE = (
    PC_MOVE
    + """
local OVER = {failed = 'f', finished = 'x', stopped = 'x', canceled = 'x'}
local changed = 0
for i = 4, #ARGV do
  local client = ARGV[i]
  local base = ARGV[1] .. client
  local found = {queued = 0, running = 0, retrying = 0}
  local fixed = false
  for _, id in ipairs(redis.call('ZRANGE', base .. ':pending', 0, -1)) do
    local jkey = ARGV[2] .. id
    local status = redis.call('HGET', jkey, 'status')
    if not status then
      redis.call('ZREM', base .. ':pending', id)
      fixed = true
    elseif OVER[status] then
      local ttl = tonumber(redis.call('HGET', jkey, 'failure_ttl') or '') or 0
      local kind = ''
      if OVER[status] == 'f' then kind = 'AbandonedJobError' end
      pc_move(jkey, id, ARGV[1], OVER[status], tonumber(ARGV[3]) + ttl, kind)
      redis.call('ZREM', base .. ':pending', id)
      fixed = true
    else
      local field = PC_FIELDS[redis.call('HGET', jkey, 'pc') or '']
      if field then found[field] = found[field] + 1 end
    end
  end
  local counts = base .. ':counts'
  for field, value in pairs(found) do
    if tonumber(redis.call('HGET', counts, field) or '0') ~= value then
      redis.call('HSET', counts, field, value)
      fixed = true
    end
  end
  for _, id in ipairs(redis.call('ZRANGE', base .. ':failed', 0, -1)) do
    if redis.call('EXISTS', ARGV[2] .. id) == 0 then
      redis.call('ZREM', base .. ':failed', id)
      for _, kind in ipairs(redis.call('SMEMBERS', FAILED_KINDS)) do
        redis.call('ZREM', FAILED_KIND_PREFIX .. kind, id)
      end
      fixed = true
    end
  end
  if fixed then changed = changed + 1 end
end
return changed
"""
)
RECONCILE_BATCH = 100  # clients per script call, so that no call holds Redis for long
RECONCILE_WINDOW = 2 * 3600  # seconds: clients heard from this recently are put right


def reconcile(client_ids: list[str] | None = None, connection: redis.Redis | None = None) -> int:
    """Puts right the counts of `client_ids` (default: every client heard from in the last
    two hours) from their jobs; returns how many clients' counts had drifted."""
    connection = connection or get_redis()
    if client_ids is None:
        client_ids = clients(connection, since=time.time() - RECONCILE_WINDOW)
    script = _reconcile_scripts.get(id(connection))
    if script is None:
        script = _reconcile_scripts.setdefault(id(connection), connection.register_script(_RECONCILE))
    changed = 0
    for start in range(0, len(client_ids), RECONCILE_BATCH):
        batch = client_ids[start : start + RECONCILE_BATCH]
        changed += int(script(args=[keys.CLIENT_PREFIX, Job.key_for(""), repr(time.time()), *batch]))
    return changed


_reconcile_scripts: dict[int, Any] = {}
