--[[
  Takes up to n jobs off the queue, in fair or FIFO order, and writes for each what RQ's worker
  would write (proctoring/worker/intake.py, `take`).

  In fair order, each job is the next waiting frame of the client whose turn it is (sparse
  clients first, then the backlogged ones round-robin; a client in its priority window gets
  several per turn; proctoring/queue/fairness.py), taken out of the queue wherever it is; a job
  that reached the queue without a waiting list (requeued by django-rq's pages) is taken from the
  queue's head. In FIFO order, from the head, leaving its client's waiting list.

  Live frames first (proctoring/queue/lateness.py): in fair order a frame received before
  `live_since` is late, and is taken only once no client has a live frame waiting (a client
  whose oldest frames are late gives its oldest live one, found by bisecting its waiting list,
  received-time ordered; a client with only late frames is passed over). Late frames are then
  taken oldest first, in the clients' fair turns.

  For each job still present: what RQ's prepare_execution and prepare_job_execution write (the
  execution hash, the job's executions registry, the started registry, the worker's execution
  index, the job's status and start), all in one atomic step, so there is no moment at which a
  job is off the queue but in no registry (RQ needs an intermediate list for that). They are kept
  as long as RQ's SimpleWorker keeps them, the job's timeout + 60 s, since nothing refreshes them
  while the job runs. A job's entry in the started registry is scored by when its lease runs out
  (now + lease), not by its timeout: the worker renews the leases of the jobs it holds every few
  seconds, so a job whose worker died is seen abandoned by RQ's cleanup within the lease. Each
  job taken is counted as running for its client.

  Input:
    KEYS[1]  queue              RQ's queue list
    KEYS[2]  started_registry   RQ's started registry of the queue
    KEYS[3]  worker             the worker's hash
    KEYS[4]  worker_executions  the worker's executions set
    KEYS[5]  suspended          RQ's "workers suspended" flag
    KEYS[6]  circuit_open       the API breaker's open flag
    KEYS[7]  api_failures       the API breaker's count of consecutive failures
    KEYS[8]  api_probe          the API breaker's probe flag
    KEYS[9]  backlogged_ring    the backlogged ring (clients with more frames waiting)
    KEYS[10] sparse_ring        the sparse ring (served before the backlogged one)
    KEYS[11] ring_turn          frames the client at a ring's head has had in its turn
    KEYS[12] failed_kinds       the set of failed kinds (for the counts)

    ARGV[1]  n                  the most jobs to take
    ARGV[2]  now                now (epoch seconds)
    ARGV[3]  stamp              now in RQ's format
    ARGV[4]  worker_name        the worker's name
    ARGV[5]  worker_ttl         RQ's default worker TTL (for jobs without a timeout)
    ARGV[6]  lease              seconds a job's lease in the started registry lasts
    ARGV[7]  breaker_threshold  failures that open the API's circuit (0: no breaker)
    ARGV[8]  breaker_cooldown   seconds the circuit stays open
    ARGV[9]  fair               "1" to take in fair order, else FIFO
    ARGV[10] flagged_weight     frames per turn of a client in its priority window
    ARGV[11] sparse_backlog     the most frames a sparse client has waiting
    ARGV[12] backlog            the most backlogged clients' frames to take (-1: no limit)
    ARGV[13] job_template       template of a job's hash
    ARGV[14] execution_template template of an execution's hash (by "<job id>:<execution id>")
    ARGV[15] executions_template template of a job's executions registry
    ARGV[16] frame_template     template of a frame's envelope key
    ARGV[17] waiting_template   template of a client's waiting list
    ARGV[18] priority_template  template of a client's priority window
    ARGV[19] counts_template    template of a client's counts hash
    ARGV[20] failed_template    template of a client's failed set
    ARGV[21] kind_template      template of a failed kind's set
    ARGV[22] live_since         the receive time (epoch seconds) from which a frame is live (0: all)
    ARGV[23] pending_template   template of a client's pending set (scored by receive time)
    ARGV[24..] execution_ids    one new execution id per job that may be taken

  Output:
    {-1} workers are suspended, {-2} the API's circuit is open, {-3} it is half-open and its
    probe is out (nothing taken); else {sparse frames taken, 1 if backlogged frames were held
    back for the `backlog` limit, then per job taken: id, execution id, the job hash (flat), the
    frame envelope or false}.
]]
--- @include "includes/pc_move.lua"
--- @include "includes/take_gate.lua"
local queue_key = KEYS[1]
local started_key = KEYS[2]
local worker_key = KEYS[3]
local worker_executions_key = KEYS[4]
local backlogged_ring_key = KEYS[9]
local sparse_ring_key = KEYS[10]
local turn_key = KEYS[11]
local now = tonumber(ARGV[2])
local stamp = ARGV[3]
local worker_name = ARGV[4]
local default_ttl = tonumber(ARGV[5])
local lease = tonumber(ARGV[6])
local fair = ARGV[9] == '1'
local weight = tonumber(ARGV[10])
local sparse_backlog = tonumber(ARGV[11])
-- The worker keeps a few threads for sparse clients under backlog (proctoring/worker/workers.py):
-- it says how many backlogged frames it may start, and learns whether any were left for that.
local backlog_left = tonumber(ARGV[12])
local job_template = ARGV[13]
local execution_template = ARGV[14]
local executions_template = ARGV[15]
local frame_template = ARGV[16]
local waiting_template = ARGV[17]
local priority_template = ARGV[18]
local count_keys = {counts = ARGV[19], failed = ARGV[20], kinds = KEYS[12], kind = ARGV[21]}
local live_since = tonumber(ARGV[22])
local pending_template = ARGV[23]

if redis.call('EXISTS', KEYS[5]) == 1 then return {-1} end
local take_n = take_gate(KEYS[6], KEYS[7], KEYS[8], tonumber(ARGV[1]), tonumber(ARGV[7]), ARGV[8])
if take_n < 0 then return {take_n} end

local function leave_waiting(id, job_key)
  local client = client_of(job_key)
  if not client then return end
  local waiting = key_for(waiting_template, client)
  redis.call('LREM', waiting, 1, id)
  if redis.call('LLEN', waiting) == 0 then
    redis.call('LREM', backlogged_ring_key, 0, client)
    redis.call('LREM', sparse_ring_key, 0, client)
  end
end
local sparse_taken = 0
local held_back = 0

local function is_live(client, id)
  if live_since <= 0 or not id then return true end
  local received = redis.call('ZSCORE', key_for(pending_template, client), id)
  return not received or tonumber(received) >= live_since
end
-- The client's oldest live frame, out of its waiting list, or nil when all its frames are late.
local function first_live(client, waiting)
  local last = redis.call('LLEN', waiting) - 1
  if last < 0 or not is_live(client, redis.call('LINDEX', waiting, last)) then return nil end
  local low, high = 0, last  -- the frame at `high` is live; find the first that is
  while low < high do
    local middle = math.floor((low + high) / 2)
    if is_live(client, redis.call('LINDEX', waiting, middle)) then high = middle else low = middle + 1 end
  end
  local id = redis.call('LINDEX', waiting, high)
  redis.call('LREM', waiting, 1, id)
  return id
end
-- The client whose turn it is: the head of the sparse ring if any, else the backlogged ring's
-- head. How many frames it has had in this turn is kept beside the rings (a turn may span
-- several takes); the turn passes once it has had its share (more in its priority window) or
-- has nothing left waiting. Then it goes to the tail of the sparse ring if it has at
-- most `sparse_backlog` frames left, else of the backlogged ring.
-- Returns the id and whether it came from the sparse ring.
-- Without `late_ok`, a client with only late frames is passed over; once every sparse client
-- was, the backlogged ring is looked at.
local function next_fair(late_ok)
  local turns = redis.call('LLEN', backlogged_ring_key) + redis.call('LLEN', sparse_ring_key)
  local sparse_passed = 0
  while turns > 0 do
    local ring = sparse_ring_key
    local client = false
    if sparse_passed < redis.call('LLEN', sparse_ring_key) then client = redis.call('LINDEX', ring, 0) end
    local from_sparse = client ~= false
    if not client then
      if backlog_left == 0 then
        if redis.call('LLEN', backlogged_ring_key) > 0 then held_back = 1 end
        return nil
      end
      ring = backlogged_ring_key
      client = redis.call('LINDEX', ring, 0)
    end
    if not client then return nil end
    local waiting = key_for(waiting_template, client)
    local id, passed = nil, false
    if late_ok or is_live(client, redis.call('LINDEX', waiting, 0)) then
      id = redis.call('LPOP', waiting)
    else
      id = first_live(client, waiting)
      passed = not id  -- only late frames: its turn passes, they wait for the second round
      if passed and from_sparse then sparse_passed = sparse_passed + 1 end
    end
    local share = 1
    if weight > 1 and redis.call('EXISTS', key_for(priority_template, client)) == 1 then share = weight end
    local served = 0
    if id then served = redis.call('HINCRBY', turn_key, client, 1) end
    if redis.call('LLEN', waiting) == 0 then
      redis.call('LPOP', ring)
      redis.call('DEL', turn_key)
      turns = turns - 1
    elseif served >= share or passed then
      -- Still sparse (a frame or two left): round the sparse ring again; else the backlogged one.
      local next_ring = backlogged_ring_key
      if redis.call('LLEN', waiting) <= sparse_backlog then next_ring = sparse_ring_key end
      redis.call('LMOVE', ring, next_ring, 'LEFT', 'RIGHT')
      redis.call('DEL', turn_key)
      turns = turns - 1
    end
    -- An id no longer in the queue (taken from the head, deleted) is only dropped. A sparse
    -- client's frame is a recent one: looked for from the tail (the backlog's frames, old,
    -- from the head, as late frames are), so the scan does not cross the whole backlog.
    local direction = 1
    if from_sparse and not late_ok then direction = -1 end
    if id and redis.call('LREM', queue_key, direction, id) > 0 then return id, from_sparse end
  end
  return nil
end
-- A job at the queue's head that is in no waiting list (requeued by RQ's or django-rq's own
-- code, which does not know of them) goes first: under a lasting backlog the rings never empty,
-- and it would wait for ever.
local function orphan_at_head()
  local head = redis.call('LINDEX', queue_key, 0)
  if not head then return nil end
  local client = client_of(key_for(job_template, head))
  if client and redis.call('LPOS', key_for(waiting_template, client), head) then return nil end
  return redis.call('LPOP', queue_key)
end
local taken = {0, 0}
local live_done = false  -- no live frame was found waiting: late ones are taken
for i = 1, take_n do
  local id, sparse = nil, false
  if fair and backlog_left ~= 0 then id = orphan_at_head() end
  if not id and fair then
    if not live_done then
      id, sparse = next_fair(false)
      live_done = not id
    end
    if not id and held_back == 0 then id, sparse = next_fair(true) end  -- no live frame waits
    if held_back == 1 then break end
  end
  if not id and fair and backlog_left == 0 then
    -- Jobs without a waiting list (requeued by django-rq's pages) count as backlog here.
    if redis.call('LLEN', queue_key) > 0 then held_back = 1 end
    break
  end
  if not id then
    id = redis.call('LPOP', queue_key)
    if id then leave_waiting(id, key_for(job_template, id)) end
  end
  if not id then break end
  -- Every job but a sparse client's frame counts against the backlog allowed.
  if sparse then
    sparse_taken = sparse_taken + 1
  elseif backlog_left > 0 then
    backlog_left = backlog_left - 1
  end
  local job_key = key_for(job_template, id)
  if redis.call('EXISTS', job_key) == 1 then
    local timeout = tonumber(redis.call('HGET', job_key, 'timeout') or '')
    local ttl = default_ttl
    if timeout ~= -1 then ttl = math.floor((timeout ~= 0 and timeout) or default_ttl) + 60 end
    local eid = ARGV[23 + i]
    local composite = id .. ':' .. eid
    local execution_key = key_for(execution_template, composite)
    redis.call('HSET', execution_key, 'id', eid, 'job_id', id, 'created_at', ARGV[2],
               'last_heartbeat', ARGV[2], 'worker_name', worker_name)
    redis.call('EXPIRE', execution_key, ttl)
    local executions_key = key_for(executions_template, id)
    redis.call('ZADD', executions_key, math.floor(now) + ttl + 60, eid)
    redis.call('EXPIRE', executions_key, ttl + 60)
    redis.call('ZADD', started_key, math.floor(now) + lease, composite)
    redis.call('SADD', worker_executions_key, composite)
    redis.call('EXPIRE', worker_executions_key, ttl + 60)
    redis.call('HSET', job_key, 'status', 'started', 'started_at', stamp,
               'last_heartbeat', stamp, 'worker_name', worker_name)
    redis.call('HDEL', job_key, 'pri')
    redis.call('PERSIST', job_key)
    pc_move(count_keys, job_key, id, 'r', 0, '')
    taken[#taken + 1] = id
    taken[#taken + 1] = eid
    taken[#taken + 1] = redis.call('HGETALL', job_key)
    taken[#taken + 1] = redis.call('GET', key_for(frame_template, id))
  end
end
if #taken > 2 then redis.call('HSET', worker_key, 'state', 'busy') end
taken[1] = sparse_taken
taken[2] = held_back
return taken
