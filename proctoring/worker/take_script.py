"""The take script: one Lua call takes a batch of jobs off the queue, in fair or FIFO order,
and writes what RQ's worker would write for each (`proctoring.worker.lifecycle.take` runs it)."""

from __future__ import annotations

from proctoring.queue import breaker, counters

# KEYS: 1 queue, 2 started registry, 3 worker hash, 4 worker's executions set, 5 RQ's
# "workers suspended" flag (then nothing is taken and the answer is {-1}).
# ARGV: 1 n, 2 job key prefix, 3 execution key prefix, 4 executions-registry key prefix,
# 5 frame key prefix, 6 now (epoch seconds), 7 now (RQ's text format), 8 worker name,
# 9 RQ's default worker TTL, 10 client key prefix (counters), 11 the lease (seconds),
# 12 the API breaker's threshold, 13 its cooldown, 14 "1" to take in fair order, 15 the weight
# of a client in its priority window (frames per turn), 16 the most frames a sparse client has
# waiting, 17 the most frames of backlogged clients to take (-1: no limit), 18.. one execution id
# per job.
# KEYS 6-8: the API breaker's open flag, failure count and probe flag (`proctoring.queue.breaker`):
# while the circuit is open nothing is taken ({-2}); half-open, one job at most ({-3} while it is out).
# KEYS 9, 10: the clients' ring and the ring of new clients. In fair order, each job is the next
# waiting frame of the client whose turn it is (new clients first, then round-robin; a client in
# its priority window gets several per turn; `proctoring.queue.fairness`), taken out of
# the queue wherever it is; a job that reached the queue without a waiting list (requeued by
# django-rq's pages) is taken from the queue's head once the ring is empty. In FIFO order, from
# the head, leaving its client's waiting list.
# A job's entry in the started registry is scored by when its lease runs out (now + lease),
# not by its timeout: the worker renews the leases of the jobs it holds every few seconds
# (`Leases`), so a job whose worker died is seen abandoned by RQ's cleanup within the lease,
# instead of after its timeout + 60 s.
# For each job still present: what RQ's prepare_execution and prepare_job_execution write
# (execution hash, the job's executions registry, the started registry, the worker's execution
# index, the job's status and start), all in one atomic step, so there is no moment at which a
# job is off the queue but in no registry (RQ needs an intermediate list for that). They are
# kept as long as RQ's SimpleWorker keeps them, the job's timeout + 60 s, since nothing
# refreshes them while the job runs. Returns, per job taken: id, execution id, the job hash
# (flat), the frame envelope (or false). Each job taken is counted as running for its client.
TEXT = (
    counters.PC_MOVE
    + """
if redis.call('EXISTS', KEYS[5]) == 1 then return {-1} end
"""
    + breaker.TAKE_GATE
    + """
local now = tonumber(ARGV[6])
local default_ttl = tonumber(ARGV[9])
local CP = ARGV[10]
local fair = ARGV[14] == '1'
local weight = tonumber(ARGV[15])
local function leave_waiting(id, jkey)
  local client = client_of(jkey)
  if not client then return end
  local waiting = CP .. client .. ':waiting'
  redis.call('LREM', waiting, 1, id)
  if redis.call('LLEN', waiting) == 0 then
    redis.call('LREM', KEYS[9], 0, client)
    redis.call('LREM', KEYS[10], 0, client)
  end
end
-- The client whose turn it is: the head of the sparse clients' ring (KEYS[10]) if any, else the
-- backlogged clients' ring's head. How many frames it has had in this turn is kept beside the
-- rings (a turn may span several takes); the turn passes once it has had its share (more in its
-- priority window) or has nothing left waiting. Then it goes to the tail of the sparse ring if it
-- has at most SPARSE frames left, else of the backlogged ring (see `proctoring.queue.fairness`).
local TURN = KEYS[9] .. ':turn'
local SPARSE = tonumber(ARGV[16])
-- The worker keeps a few threads for sparse clients under backlog (`proctoring.worker.workers`): it
-- says how many backlogged frames it may start, and learns whether any were left for that.
local backlog_left = tonumber(ARGV[17])
local sparse_taken = 0
local held_back = 0
-- Returns the id and whether it came from the sparse ring.
local function next_fair()
  local turns = redis.call('LLEN', KEYS[9]) + redis.call('LLEN', KEYS[10])
  while turns > 0 do
    local ring = KEYS[10]
    local client = redis.call('LINDEX', ring, 0)
    local from_sparse = client ~= false
    if not client then
      if backlog_left == 0 then
        if redis.call('LLEN', KEYS[9]) > 0 then held_back = 1 end
        return nil
      end
      ring = KEYS[9]
      client = redis.call('LINDEX', ring, 0)
    end
    if not client then return nil end
    local waiting = CP .. client .. ':waiting'
    local id = redis.call('LPOP', waiting)
    local share = 1
    if weight > 1 and redis.call('EXISTS', CP .. client .. ':priority') == 1 then share = weight end
    local served = 0
    if id then served = redis.call('HINCRBY', TURN, client, 1) end
    if redis.call('LLEN', waiting) == 0 then
      redis.call('LPOP', ring)
      redis.call('DEL', TURN)
      turns = turns - 1
    elseif served >= share then
      -- Still sparse (a frame or two left): round the first ring again; else the backlog's.
      local next_ring = KEYS[9]
      if redis.call('LLEN', waiting) <= SPARSE then next_ring = KEYS[10] end
      redis.call('LMOVE', ring, next_ring, 'LEFT', 'RIGHT')
      redis.call('DEL', TURN)
      turns = turns - 1
    end
    -- An id no longer in the queue (taken from the head, deleted) is only dropped. A sparse
    -- client's frame is a recent one: looked for from the tail (the backlog's frames, old,
    -- from the head), so the scan does not cross the whole backlog (~0.3 ms at 20,000).
    local direction = 1
    if from_sparse then direction = -1 end
    if id and redis.call('LREM', KEYS[1], direction, id) > 0 then return id, from_sparse end
  end
  return nil
end
-- A job at the queue's head that is in no waiting list (requeued by RQ's or django-rq's own
-- code, which does not know of them) goes first: under a lasting backlog the rings never empty,
-- and it would wait for ever.
local function orphan_at_head()
  local head = redis.call('LINDEX', KEYS[1], 0)
  if not head then return nil end
  local client = client_of(ARGV[2] .. head)
  if client and redis.call('LPOS', CP .. client .. ':waiting', head) then return nil end
  return redis.call('LPOP', KEYS[1])
end
local taken = {0, 0}
for i = 1, take_n do
  local id, sparse = nil, false
  if fair and backlog_left ~= 0 then id = orphan_at_head() end
  if not id and fair then
    id, sparse = next_fair()
    if held_back == 1 then break end
  end
  if not id and fair and backlog_left == 0 then
    -- Jobs without a waiting list (requeued by django-rq's pages) count as backlog here.
    if redis.call('LLEN', KEYS[1]) > 0 then held_back = 1 end
    break
  end
  if not id then
    id = redis.call('LPOP', KEYS[1])
    if id then leave_waiting(id, ARGV[2] .. id) end
  end
  if not id then break end
  -- Every job but a sparse client's frame counts against the backlog allowed.
  if sparse then
    sparse_taken = sparse_taken + 1
  elseif backlog_left > 0 then
    backlog_left = backlog_left - 1
  end
  local jkey = ARGV[2] .. id
  if redis.call('EXISTS', jkey) == 1 then
    local timeout = tonumber(redis.call('HGET', jkey, 'timeout') or '')
    local ttl = default_ttl
    if timeout ~= -1 then ttl = math.floor((timeout ~= 0 and timeout) or default_ttl) + 60 end
    local eid = ARGV[17 + i]
    local composite = id .. ':' .. eid
    local ekey = ARGV[3] .. composite
    redis.call('HSET', ekey, 'id', eid, 'job_id', id, 'created_at', ARGV[6],
               'last_heartbeat', ARGV[6], 'worker_name', ARGV[8])
    redis.call('EXPIRE', ekey, ttl)
    local rkey = ARGV[4] .. id
    redis.call('ZADD', rkey, math.floor(now) + ttl + 60, eid)
    redis.call('EXPIRE', rkey, ttl + 60)
    redis.call('ZADD', KEYS[2], math.floor(now) + tonumber(ARGV[11]), composite)
    redis.call('SADD', KEYS[4], composite)
    redis.call('EXPIRE', KEYS[4], ttl + 60)
    redis.call('HSET', jkey, 'status', 'started', 'started_at', ARGV[7],
               'last_heartbeat', ARGV[7], 'worker_name', ARGV[8])
    redis.call('HDEL', jkey, 'pri')
    redis.call('PERSIST', jkey)
    pc_move(jkey, id, ARGV[10], 'r', 0, '')
    taken[#taken + 1] = id
    taken[#taken + 1] = eid
    taken[#taken + 1] = redis.call('HGETALL', jkey)
    taken[#taken + 1] = redis.call('GET', ARGV[5] .. id)
  end
end
if #taken > 2 then redis.call('HSET', KEYS[3], 'state', 'busy') end
taken[1] = sparse_taken
taken[2] = held_back
return taken
"""
)
