"""The Lua script that enqueues one frame (`proctoring.queue.enqueue`): admission, the frame's bytes,
RQ's own writes for its job (from `proctoring.queue.job_template`), where the job goes (the queue's
tail, its priority head, or RQ's scheduled registry for a delayed frame) and its client's counts.

KEYS: 1 the client's pending set, 2 the queue, 3 the frame key, 4 the client's counts, 5 the
clients index, 6 this minute's throughput bucket, 7 RQ's "workers suspended" flag, 8 the totals,
9 the client's priority window (set for a while after a flagged result), 10 RQ's scheduled
registry of the queue, 11 the client's hint (what its latest analysed frame showed), 12 the
clients' ring (clients with frames waiting, in the order workers visit them), 13 the client's
waiting list (its frames in the queue, oldest first), 14 the ring of clients that have just
begun to wait (served before the ring; see `proctoring.queue.fairness`).
ARGV: 1 job id, 2 received at (score), 3 per-client limit, 4 job key prefix, 5 queue limit,
6 frame envelope, 7 frame key TTL, 8 RQ's timestamp, 9 job description, 10 client id, 11 counts
TTL, 12 the bucket's TTL, 13 "1" to ask for priority, 14 when a delayed frame is due (epoch
seconds, 0 for now), 15 client key prefix (counters), 16 "1" for latest-frame-wins, 17 the
frame key prefix.
Returns {verdict, queue length, workers paused, priority, hint or false, the id of the waiting
frame this one replaced or false}: verdict 1 admitted, 0 client full, -1 queue full (nothing
written for 0 and -1).

Every waiting frame is also in its client's waiting list, and every client with one in one of
the two rings (`proctoring.queue.fairness`; the take script, `proctoring.worker.take_script`,
serves them in turn). With latest-frame-wins, a new frame takes the place of its client's oldest
waiting frame (in the queue and in the waiting list), which is deleted and counted `coalesced`;
frames already running or waiting to retry are not touched; the client, sending faster than it
is served, goes to the backlogged ring for `HASTY_SECONDS`.
"""

from __future__ import annotations

from proctoring.queue import counters
from proctoring.queue.job_template import JobTemplate

# A client with at most this many frames waiting is sparse: it goes round the ring of new (and
# sparse) clients, which workers serve first (`proctoring.queue.fairness`).
SPARSE_BACKLOG = 2

# With latest-frame-wins a client never has more than one frame waiting, so the backlog cannot
# tell a client that sends faster than it is served: one whose frame was replaced is that, and
# for this long (seconds, renewed with each replacement) its frames go to the backlogged ring.
HASTY_SECONDS = 2

# How far into the queue's head a priority frame looks for the first normal frame; past this
# many priority frames waiting, a new one goes right after them (still before every normal one).
PRIORITY_SCAN = 256

# Admit a job id into a client's pending set unless the set is full, or the whole queue is.
# When the client's set is full, ids whose job is gone (deleted, expired) or already over
# (failed, finished, stopped, canceled: e.g. a job whose worker died, later failed by RQ's
# cleanup without our callback) are dropped first, so a slot that was never released cannot
# block a client.
_ADMIT = f"""
-- Puts `value` in `list` after the priority entries at its head (`is_priority`) and before the
-- first normal one; past PRIORITY_SCAN priority entries, right after them; at the tail when all
-- are priority ones. For the queue, the client's waiting list and the sparse ring alike.
local function after_priority(list, value, is_priority)
  local pivot, last = nil, nil
  for _, other in ipairs(redis.call('LRANGE', list, 0, {PRIORITY_SCAN - 1})) do
    if not is_priority(other) then pivot = other break end
    last = other
  end
  if pivot then
    redis.call('LINSERT', list, 'BEFORE', pivot, value)
  elseif last and redis.call('LLEN', list) > {PRIORITY_SCAN} then
    redis.call('LINSERT', list, 'AFTER', last, value)
  else
    redis.call('RPUSH', list, value)
  end
end
local function priority_job(id) return redis.call('HGET', ARGV[4] .. id, 'pri') == '1' end
local queued = redis.call('LLEN', KEYS[2])
local due = tonumber(ARGV[14])
-- Latest-frame-wins: the oldest frame of this client still waiting in the queue (counted
-- queued); ids of frames taken, retrying or gone since are dropped from the waiting list.
local victim = nil
if ARGV[16] == '1' and due == 0 then
  while true do
    local candidate = redis.call('LINDEX', KEYS[13], 0)
    if not candidate then break end
    if redis.call('HGET', ARGV[4] .. candidate, 'pc') == 'q' then victim = candidate break end
    redis.call('LPOP', KEYS[13])
  end
end
-- A frame that replaces another does not make the queue longer.
if not victim and queued >= tonumber(ARGV[5]) then return {{-1, queued}} end
if victim then redis.call('ZREM', KEYS[1], victim) end
local limit = tonumber(ARGV[3])
if redis.call('ZCARD', KEYS[1]) >= limit then
  for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
    local status = redis.call('HGET', ARGV[4] .. id, 'status')
    if not status or status == 'failed' or status == 'finished' or status == 'stopped'
        or status == 'canceled' then
      redis.call('ZREM', KEYS[1], id)
    end
  end
  if redis.call('ZCARD', KEYS[1]) >= limit then return {{0, queued}} end
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('SET', KEYS[3], ARGV[6], 'EX', ARGV[7])
local jkey = ARGV[4] .. ARGV[1]
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
elseif victim and redis.call('LINSERT', KEYS[2], 'BEFORE', victim, ARGV[1]) > 0 then
  -- Its place in the queue and in the waiting list; the frame it replaces goes whole.
  redis.call('LREM', KEYS[2], 1, victim)
  redis.call('LSET', KEYS[13], 0, ARGV[1])
  local vkey = ARGV[4] .. victim
  pc_move(vkey, victim, ARGV[15], 'x', 0, 'coalesced')
  redis.call('DEL', vkey, ARGV[17] .. victim)
  redis.call('HINCRBY', KEYS[8], 'coalesced', 1)
  redis.call('SET', KEYS[15], 1, 'EX', {HASTY_SECONDS})
  if redis.call('LREM', KEYS[14], 0, ARGV[10]) > 0 then redis.call('RPUSH', KEYS[12], ARGV[10]) end
  if redis.call('HGET', vkey, 'pri') == '1' then redis.call('HSET', jkey, 'pri', '1') end
  priority = -1
elseif priority == 1 then
  redis.call('HSET', jkey, 'pri', '1')
  after_priority(KEYS[2], ARGV[1], priority_job)
else
  redis.call('RPUSH', KEYS[2], ARGV[1])
end
if victim and priority ~= -1 then victim = nil end  -- it had left the queue after all
if due == 0 and priority ~= -1 then
  if priority == 1 then
    -- After its client's waiting priority frames, before its normal ones; and its client in
    -- the ring after the clients whose next frame is a priority one, before the others: priority
    -- frames keep their order among themselves, as in the queue.
    after_priority(KEYS[13], ARGV[1], priority_job)
    redis.call('LREM', KEYS[12], 0, ARGV[10])
    redis.call('LREM', KEYS[14], 0, ARGV[10])
    after_priority(KEYS[14], ARGV[10], function(other)
      local head = redis.call('LINDEX', ARGV[15] .. other .. ':waiting', 0)
      return head and priority_job(head)
    end)
  else
    redis.call('RPUSH', KEYS[13], ARGV[1])
    local waiting = redis.call('LLEN', KEYS[13])
    if waiting == 1 and ARGV[16] == '1' and redis.call('EXISTS', KEYS[15]) == 1 then
      redis.call('RPUSH', KEYS[12], ARGV[10])  -- replacing its frames lately: not sparse
    elseif waiting == 1 then
      redis.call('RPUSH', KEYS[14], ARGV[10])
    elseif waiting == {SPARSE_BACKLOG + 1} and redis.call('LREM', KEYS[14], 0, ARGV[10]) > 0 then
      redis.call('RPUSH', KEYS[12], ARGV[10])  -- no longer sparse: the backlogged clients' ring
    end
  end
end
if due == 0 then redis.call('EXPIRE', KEYS[13], ARGV[11]) end
if priority == -1 then priority = 0 end
"""

# The job is counted in its client's counts (proctoring/queue/counters.py): as queued, or, delayed,
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
return {1, queued, redis.call('EXISTS', KEYS[7]), priority, redis.call('GET', KEYS[11]), victim or false}
"""


def text(template: JobTemplate) -> str:
    """The whole script for jobs written as `template` records them."""
    return counters.PC_MOVE + _ADMIT + template.lua("ARGV[1]", "ARGV[8]", "ARGV[9]", push=_PUSH) + _COUNT
