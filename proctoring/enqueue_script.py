"""The Lua script that enqueues one frame (`proctoring.queues`): admission, the frame's bytes,
RQ's own writes for its job (from `proctoring.job_template`), where the job goes (the queue's
tail, its priority head, or RQ's scheduled registry for a delayed frame) and its client's counts.

KEYS: 1 the client's pending set, 2 the queue, 3 the frame key, 4 the client's counts, 5 the
clients index, 6 this minute's throughput bucket, 7 RQ's "workers suspended" flag, 8 the totals,
9 the client's priority window (set for a while after a flagged result), 10 RQ's scheduled
registry of the queue, 11 the client's hint (what its latest analysed frame showed).
ARGV: 1 job id, 2 received at (score), 3 per-client limit, 4 job key prefix, 5 queue limit,
6 frame envelope, 7 frame key TTL, 8 RQ's timestamp, 9 job description, 10 client id, 11 counts
TTL, 12 the bucket's TTL, 13 "1" to ask for priority, 14 when a delayed frame is due (epoch
seconds, 0 for now).
Returns {verdict, queue length, workers paused, priority, hint or false}: verdict 1 admitted,
0 client full, -1 queue full (nothing written for 0 and -1).
"""

from __future__ import annotations

from proctoring.job_template import JobTemplate

# How far into the queue's head a priority frame looks for the first normal frame; past this
# many priority frames waiting, a new one goes right after them (still before every normal one).
PRIORITY_SCAN = 256

# Admit a job id into a client's pending set unless the set is full, or the whole queue is.
# When the client's set is full, ids whose job is gone (deleted, expired) or already over
# (failed, finished, stopped, canceled: e.g. a job whose worker died, later failed by RQ's
# cleanup without our callback) are dropped first, so a slot that was never released cannot
# block a client.
_ADMIT = """
local queued = redis.call('LLEN', KEYS[2])
if queued >= tonumber(ARGV[5]) then return {-1, queued} end
local limit = tonumber(ARGV[3])
if redis.call('ZCARD', KEYS[1]) >= limit then
  for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
    local status = redis.call('HGET', ARGV[4] .. id, 'status')
    if not status or status == 'failed' or status == 'finished' or status == 'stopped'
        or status == 'canceled' then
      redis.call('ZREM', KEYS[1], id)
    end
  end
  if redis.call('ZCARD', KEYS[1]) >= limit then return {0, queued} end
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('SET', KEYS[3], ARGV[6], 'EX', ARGV[7])
local jkey = ARGV[4] .. ARGV[1]
local due = tonumber(ARGV[14])
local priority = 0
if due == 0 and (ARGV[13] == '1' or redis.call('EXISTS', KEYS[9]) == 1) then priority = 1 end
"""

# Where the job goes, instead of RQ's RPUSH onto the queue. A priority frame goes after the
# priority frames already waiting at the queue's head (marked `pri` in their job hash) and
# before the first normal one: priority frames keep their order among themselves, and workers,
# which take from the head, take them first. A delayed frame goes to RQ's scheduled registry
# (status "scheduled"), which the worker's scheduler moves onto the queue when it is due.
_PUSH = f"""
if due > 0 then
  redis.call('HSET', jkey, 'status', 'scheduled')
  redis.call('HDEL', jkey, 'enqueued_at')
  redis.call('ZADD', KEYS[10], due, ARGV[1])
elseif priority == 1 then
  redis.call('HSET', jkey, 'pri', '1')
  local pivot = nil
  local last = nil
  for _, other in ipairs(redis.call('LRANGE', KEYS[2], 0, {PRIORITY_SCAN - 1})) do
    if redis.call('HGET', ARGV[4] .. other, 'pri') ~= '1' then pivot = other break end
    last = other
  end
  if pivot then
    redis.call('LINSERT', KEYS[2], 'BEFORE', pivot, ARGV[1])
  elseif last and redis.call('LLEN', KEYS[2]) > {PRIORITY_SCAN} then
    redis.call('LINSERT', KEYS[2], 'AFTER', last, ARGV[1])
  else
    redis.call('RPUSH', KEYS[2], ARGV[1])
  end
else
  redis.call('RPUSH', KEYS[2], ARGV[1])
end
"""

# The job is counted in its client's counts (proctoring/counters.py): as queued, or, delayed,
# as waiting (with the retries: both are RQ's scheduled registry).
_COUNT = """
local pc, pc_field = 'q', 'queued'
if due > 0 then pc, pc_field = 's', 'retrying' end
redis.call('HSET', jkey, 'pc', pc)
redis.call('HINCRBY', KEYS[4], pc_field, 1)
redis.call('HSET', KEYS[4], 'last_frame_at', ARGV[2])
redis.call('EXPIRE', KEYS[4], ARGV[11])
redis.call('ZADD', KEYS[5], ARGV[2], ARGV[10])
redis.call('HINCRBY', KEYS[6], 'received', 1)
redis.call('EXPIRE', KEYS[6], ARGV[12])
redis.call('HINCRBY', KEYS[8], 'received', 1)
return {1, queued, redis.call('EXISTS', KEYS[7]), priority, redis.call('GET', KEYS[11])}
"""


def text(template: JobTemplate) -> str:
    """The whole script for jobs written as `template` records them."""
    return _ADMIT + template.lua("ARGV[1]", "ARGV[8]", "ARGV[9]", push=_PUSH) + _COUNT
