--[[
  Erases one client (an attempt) from Redis (proctoring/queue/erasure.py): its jobs wherever
  they are (the queue, RQ's scheduled and failed registries, its failed-kind entries), their
  frames' envelopes and RQ's records of them, every key of the client, and its place in the
  rings and the clients index. The failed images' byte counts are settled before, in the same
  transaction (failed_image.lua, mode "-").

  The client's jobs are those of its pending set, waiting list, failed set and kept failed
  images, and `job_ids`. A job that is running (status "started") loses its hash and frame, but
  its execution records stay so that its worker can end it, unless `whole`: a second pass, once
  its worker is done with it, erases what that worker wrote.

  Input:
    KEYS[1]  pending            the client's pending set
    KEYS[2]  waiting            the client's waiting list
    KEYS[3]  failed             the client's failed set
    KEYS[4]  failed_images      the client's kept failed images
    KEYS[5]  counts             the client's counts hash
    KEYS[6]  priority           the client's priority window
    KEYS[7]  latest             the client's live thumbnail
    KEYS[8]  hint               the client's hint
    KEYS[9]  hasty              the client's latest-frame-wins flag
    KEYS[10] times              the client's freshness buckets
    KEYS[11] connections        the attempt's open camera sockets
    KEYS[12] refusals           the client's frames the API refused in a row
    KEYS[13] queue              RQ's queue list
    KEYS[14] scheduled          RQ's scheduled registry
    KEYS[15] failed_registry    RQ's failed registry
    KEYS[16] started            RQ's started registry
    KEYS[17] backlogged_ring    the backlogged ring
    KEYS[18] sparse_ring        the sparse ring
    KEYS[19] ring_turn          frames the client at a ring's head has had in its turn
    KEYS[20] clients            the clients index
    KEYS[21] failed_kinds       the set of failed kinds

    ARGV[1]  client_id          the client
    ARGV[2]  job_template       template of a job's hash
    ARGV[3]  frame_template     template of a frame's envelope
    ARGV[4]  kind_template      template of a failed kind's set
    ARGV[5]  executions_template template of a job's executions registry
    ARGV[6]  execution_template template of an execution's hash (by "<job id>:<execution id>")
    ARGV[7]  results_template   template of a job's results stream
    ARGV[8]  whole              "1": erase running jobs' execution records too
    ARGV[9..] job_ids           more jobs of the client (found in RQ's registries, or running at
                                a first pass)

  Output:
    {jobs erased, frames erased, client keys erased, ids of the jobs left running}
]]
--- @include "includes/pc_move.lua"
local pending_key, waiting_key, failed_key, failed_images_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
-- The client's own keys: all of them go.
local own_keys = {pending_key, waiting_key, failed_key, failed_images_key, KEYS[5], KEYS[6], KEYS[7],
                  KEYS[8], KEYS[9], KEYS[10], KEYS[11], KEYS[12]}
local queue_key, scheduled_key, failed_registry_key, started_key = KEYS[13], KEYS[14], KEYS[15], KEYS[16]
local backlogged_ring_key, sparse_ring_key, ring_turn_key, clients_key = KEYS[17], KEYS[18], KEYS[19], KEYS[20]
local client_id = ARGV[1]
local job_template, frame_template = ARGV[2], ARGV[3]
local executions_template, execution_template, results_template = ARGV[5], ARGV[6], ARGV[7]
local whole = ARGV[8] == '1'
local count_keys = {kinds = KEYS[21], kind = ARGV[4]}

-- Counted before the jobs' removal empties any of them.
local erased = redis.call('EXISTS', unpack(own_keys))

local ids, seen = {}, {}
local function add(id)
  if not seen[id] then
    seen[id] = true
    ids[#ids + 1] = id
  end
end
for _, id in ipairs(redis.call('ZRANGE', pending_key, 0, -1)) do add(id) end
for _, id in ipairs(redis.call('LRANGE', waiting_key, 0, -1)) do add(id) end
for _, id in ipairs(redis.call('ZRANGE', failed_key, 0, -1)) do add(id) end
for _, id in ipairs(redis.call('ZRANGE', failed_images_key, 0, -1)) do add(id) end
for index = 9, #ARGV do add(ARGV[index]) end

local jobs, frames, running = 0, 0, {}
for _, id in ipairs(ids) do
  local job_key = key_for(job_template, id)
  local status = redis.call('HGET', job_key, 'status')
  if status == 'queued' or not status then  -- the queue is long: looked through only when need be
    redis.call('LREM', queue_key, 0, id)
  end
  redis.call('ZREM', scheduled_key, id)
  redis.call('ZREM', failed_registry_key, id)
  forget_failed(count_keys, failed_key, id)
  if status == 'started' and not whole then
    running[#running + 1] = id
  else
    local executions_key = key_for(executions_template, id)
    for _, execution in ipairs(redis.call('ZRANGE', executions_key, 0, -1)) do
      local composite = id .. ':' .. execution
      redis.call('ZREM', started_key, composite)
      redis.call('DEL', key_for(execution_template, composite))
    end
    redis.call('DEL', executions_key, key_for(results_template, id))
  end
  jobs = jobs + redis.call('DEL', job_key)
  frames = frames + redis.call('DEL', key_for(frame_template, id))
end

redis.call('DEL', unpack(own_keys))
redis.call('LREM', backlogged_ring_key, 0, client_id)
redis.call('LREM', sparse_ring_key, 0, client_id)
redis.call('HDEL', ring_turn_key, client_id)
redis.call('ZREM', clients_key, client_id)
return {jobs, frames, erased, running}
