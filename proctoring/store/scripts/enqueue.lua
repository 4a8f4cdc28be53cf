--[[
  Enqueues one frame (proctoring/queue/enqueue.py): admission, the frame's bytes, RQ's own
  writes for its job, where the job goes (the queue's tail, after the priority frames at its
  head, or RQ's scheduled registry for a delayed frame) and its client's counts.

  Admission: the job id goes into its client's pending set unless the set is full, or the whole
  queue is. When the client's set is full, ids whose job is gone (deleted, expired) or already
  over (failed, finished, stopped, canceled: e.g. a job whose worker died, later failed by RQ's
  cleanup without our callback) are dropped first, so a slot that was never released cannot
  block a client.

  Every waiting frame is also in its client's waiting list, and every client with one in one of
  the two rings (proctoring/queue/fairness.py; take.lua serves them in turn). With
  latest-frame-wins, a new frame takes the place of its client's oldest waiting frame (in the
  queue and in the waiting list), which is deleted and counted `coalesced`; frames already
  running or waiting to retry are not touched; the client, sending faster than it is served,
  goes to the backlogged ring for `hasty_seconds`.

  A client whose last `refuse_after` frames the API refused in a row has its frame refused
  before anything else, with nothing written: it is told how long is left of the cooldown.

  A frame whose capture time the gateway did not believe (proctoring/core/clock.py) is counted
  `clock_corrected`, in its client's counts and in the totals.

  Input:
    KEYS[1]  pending          the client's pending set (its size is the per-client limit)
    KEYS[2]  queue            RQ's queue list
    KEYS[3]  frame            the frame's envelope
    KEYS[4]  counts           the client's counts hash
    KEYS[5]  clients          the clients index (by last frame time)
    KEYS[6]  minute           this minute's throughput bucket
    KEYS[7]  suspended        RQ's "workers suspended" flag
    KEYS[8]  totals           the totals hash
    KEYS[9]  priority_window  set for a while after a flagged result: the client's frames jump
    KEYS[10] scheduled        RQ's scheduled registry of the queue
    KEYS[11] hint             what the client's latest analysed frame showed
    KEYS[12] backlogged_ring  the backlogged ring (clients with more frames waiting)
    KEYS[13] waiting          the client's waiting list (its frames in the queue, oldest first)
    KEYS[14] sparse_ring      the sparse ring (served before the backlogged one)
    KEYS[15] hasty            set while the client's frames replace each other
    KEYS[16] job              the new job's hash
    KEYS[17] failed_kinds     the set of failed kinds (for a replaced frame's counts)
    KEYS[18] refusals         the client's frames refused by the API in a row

    ARGV[1]  job_id           the new job's id
    ARGV[2]  received_at      when the frame was received (epoch seconds; pending set score)
    ARGV[3]  client_limit     the most frames a client may have pending
    ARGV[4]  queue_limit      the most frames waiting in the queue
    ARGV[5]  envelope         the frame's envelope (header and image bytes)
    ARGV[6]  frame_ttl        the frame key's TTL (seconds)
    ARGV[7]  stamp            the receive time in RQ's format (created_at, enqueued_at)
    ARGV[8]  description      the job's description ("frame <client id>#<seq>")
    ARGV[9]  client_id        the client's id
    ARGV[10] counts_ttl       the TTL of the client's counts, pending set and waiting list
    ARGV[11] minute_ttl       the TTL of the throughput bucket
    ARGV[12] want_priority    "1" to ask for priority
    ARGV[13] due              when a delayed frame is due (epoch seconds), 0 for now
    ARGV[14] coalesce         "1" for latest-frame-wins
    ARGV[15] priority_scan    how far into the queue's head a priority frame looks
    ARGV[16] sparse_backlog   the most frames a sparse client has waiting
    ARGV[17] hasty_seconds    how long a client whose frame was replaced counts as backlogged
    ARGV[18] job_template     template of a job's hash (keys.template)
    ARGV[19] frame_template   template of a frame's envelope key
    ARGV[20] waiting_template template of a client's waiting list
    ARGV[21] counts_template  template of a client's counts hash
    ARGV[22] failed_template  template of a client's failed set
    ARGV[23] kind_template    template of a failed kind's set
    ARGV[24] seq              the frame's number in its connection
    ARGV[25] clock_corrected  "1" when the client's capture time was replaced by the receive time
    ARGV[26] refuse_after     refuse the frame when the client has this many refusals (0: never)

  Output:
    {verdict, queue length, workers paused, priority, hint or false, the id of the waiting frame
    this one replaced or false, the client's refusals in a row}: verdict 1 admitted, 0 client
    full, -1 queue full, -2 refused for the API's refusals (nothing written for 0, -1 and -2,
    and only the first two entries; for -2 the second is the cooldown's milliseconds left).
]]
--- @include "includes/pc_move.lua"
--- @include "includes/after_priority.lua"
local pending_key = KEYS[1]
local queue_key = KEYS[2]
local frame_key = KEYS[3]
local counts_key = KEYS[4]
local clients_key = KEYS[5]
local minute_key = KEYS[6]
local suspended_key = KEYS[7]
local totals_key = KEYS[8]
local priority_window_key = KEYS[9]
local scheduled_key = KEYS[10]
local hint_key = KEYS[11]
local backlogged_ring_key = KEYS[12]
local waiting_key = KEYS[13]
local sparse_ring_key = KEYS[14]
local hasty_key = KEYS[15]
local job_key = KEYS[16]
local job_id = ARGV[1]
local received_at = ARGV[2]
local client_limit = tonumber(ARGV[3])
local queue_limit = tonumber(ARGV[4])
local stamp = ARGV[7]
local description = ARGV[8]
local client_id = ARGV[9]
local counts_ttl = ARGV[10]
local due = tonumber(ARGV[13])
local coalesce = ARGV[14] == '1'
local priority_scan = tonumber(ARGV[15])
local sparse_backlog = tonumber(ARGV[16])
local job_template = ARGV[18]
local waiting_template = ARGV[20]
local count_keys = {counts = ARGV[21], failed = ARGV[22], kinds = KEYS[17], kind = ARGV[23]}

local refusals = tonumber(redis.call('GET', KEYS[18]) or '0')
local refuse_after = tonumber(ARGV[26])
if refuse_after > 0 and refusals >= refuse_after then return {-2, redis.call('PTTL', KEYS[18])} end

local function priority_job(id) return redis.call('HGET', key_for(job_template, id), 'pri') == '1' end
local queued = redis.call('LLEN', queue_key)
-- Latest-frame-wins: the oldest frame of this client still waiting in the queue (counted
-- queued); ids of frames taken, retrying or gone since are dropped from the waiting list.
local victim = nil
if coalesce and due == 0 then
  while true do
    local candidate = redis.call('LINDEX', waiting_key, 0)
    if not candidate then break end
    if redis.call('HGET', key_for(job_template, candidate), 'pc') == 'q' then victim = candidate break end
    redis.call('LPOP', waiting_key)
  end
end
-- A frame that replaces another does not make the queue longer.
if not victim and queued >= queue_limit then return {-1, queued} end
if victim then redis.call('ZREM', pending_key, victim) end
if redis.call('ZCARD', pending_key) >= client_limit then
  for _, id in ipairs(redis.call('ZRANGE', pending_key, 0, -1)) do
    local status = redis.call('HGET', key_for(job_template, id), 'status')
    if not status or status == 'failed' or status == 'finished' or status == 'stopped'
        or status == 'canceled' then
      redis.call('ZREM', pending_key, id)
    end
  end
  if redis.call('ZCARD', pending_key) >= client_limit then return {0, queued} end
end
redis.call('ZADD', pending_key, received_at, job_id)
-- Every job in it ends within days; a client gone silent does not keep the set for ever.
redis.call('EXPIRE', pending_key, counts_ttl)
redis.call('SET', frame_key, ARGV[5], 'EX', ARGV[6])
local priority = 0
if due == 0 and (ARGV[12] == '1' or redis.call('EXISTS', priority_window_key) == 1) then priority = 1 end

-- Where the job goes, in place of RQ's RPUSH onto the queue (called from the job writes below).
-- A priority frame goes after the priority frames already waiting at the queue's head (marked
-- `pri` in their job hash) and before the first normal one: priority frames keep their order
-- among themselves, and workers, which take from the head, take them first. A delayed frame
-- goes to RQ's scheduled registry (status "scheduled"), which the worker's scheduler moves onto
-- the queue when it is due.
local function push()
  if due > 0 then
    redis.call('HSET', job_key, 'status', 'scheduled')
    redis.call('HDEL', job_key, 'enqueued_at')
    redis.call('ZADD', scheduled_key, due, job_id)
  elseif victim and redis.call('LINSERT', queue_key, 'BEFORE', victim, job_id) > 0 then
    -- Its place in the queue and in the waiting list; the frame it replaces goes whole.
    redis.call('LREM', queue_key, 1, victim)
    redis.call('LSET', waiting_key, 0, job_id)
    local victim_key = key_for(job_template, victim)
    pc_move(count_keys, victim_key, victim, 'x', 0, 'coalesced')
    redis.call('DEL', victim_key, key_for(ARGV[19], victim))
    redis.call('HINCRBY', totals_key, 'coalesced', 1)
    redis.call('SET', hasty_key, 1, 'EX', ARGV[17])
    if redis.call('LREM', sparse_ring_key, 0, client_id) > 0 then
      redis.call('RPUSH', backlogged_ring_key, client_id)
    end
    if redis.call('HGET', victim_key, 'pri') == '1' then redis.call('HSET', job_key, 'pri', '1') end
    priority = -1
  elseif priority == 1 then
    redis.call('HSET', job_key, 'pri', '1')
    after_priority(queue_key, job_id, priority_job, priority_scan)
  else
    redis.call('RPUSH', queue_key, job_id)
  end
  if victim and priority ~= -1 then victim = nil end  -- it had left the queue after all
  if due == 0 and priority ~= -1 then
    if priority == 1 then
      -- After its client's waiting priority frames, before its normal ones; and its client in
      -- the sparse ring after the clients whose next frame is a priority one, before the others:
      -- priority frames keep their order among themselves, as in the queue.
      after_priority(waiting_key, job_id, priority_job, priority_scan)
      redis.call('LREM', backlogged_ring_key, 0, client_id)
      redis.call('LREM', sparse_ring_key, 0, client_id)
      after_priority(sparse_ring_key, client_id, function(other)
        local head = redis.call('LINDEX', key_for(waiting_template, other), 0)
        return head and priority_job(head)
      end, priority_scan)
    else
      redis.call('RPUSH', waiting_key, job_id)
      local waiting = redis.call('LLEN', waiting_key)
      if waiting == 1 and coalesce and redis.call('EXISTS', hasty_key) == 1 then
        redis.call('RPUSH', backlogged_ring_key, client_id)  -- replacing its frames lately: not sparse
      elseif waiting == 1 then
        redis.call('RPUSH', sparse_ring_key, client_id)
      elseif waiting == sparse_backlog + 1 and redis.call('LREM', sparse_ring_key, 0, client_id) > 0 then
        redis.call('RPUSH', backlogged_ring_key, client_id)  -- no longer sparse
      end
    end
  end
  if due == 0 then redis.call('EXPIRE', waiting_key, counts_ttl) end
  if priority == -1 then priority = 0 end
end

-- RQ's own writes for the job (proctoring/queue/job_template.py), recorded from RQ at run time;
-- they see `job_id`, `job_key`, `stamp` and `description`, and call push() for RQ's RPUSH.
--- @generated job_writes

-- The job is counted in its client's counts (proctoring/queue/counters.py): as queued, or,
-- delayed, as waiting (with the retries: both are RQ's scheduled registry). Beside RQ's fields,
-- its hash names its frame, `client` and `seq`, read by client_of (includes/pc_move.lua) and
-- counters.frame_of.
local pc, pc_field = 'q', 'queued'
if due > 0 then pc, pc_field = 's', 'retrying' end
redis.call('HSET', job_key, 'pc', pc, 'client', client_id, 'seq', ARGV[24])
redis.call('HINCRBY', counts_key, pc_field, 1)
redis.call('HSET', counts_key, 'last_frame_at', received_at)
redis.call('EXPIRE', counts_key, counts_ttl)
redis.call('ZADD', clients_key, received_at, client_id)
redis.call('HINCRBY', minute_key, 'received', 1)
redis.call('EXPIRE', minute_key, ARGV[11])
redis.call('HINCRBY', totals_key, 'received', 1)
if ARGV[25] == '1' then
  redis.call('HINCRBY', counts_key, 'clock_corrected', 1)
  redis.call('HINCRBY', totals_key, 'clock_corrected', 1)
end
return {1, queued, redis.call('EXISTS', suspended_key), priority, redis.call('GET', hint_key), victim or false,
        refusals}
