--[[
  Puts right the counts of the clients given, from their own jobs (proctoring/queue/counters.py).

  Every job a client has queued, running or waiting is in its pending set (added in the
  enqueue's atomic step, removed in the same transaction as its move to done or failed), and
  carries the state it is counted in (`pc`). So for each client: ids in the pending set whose job
  is gone (deleted behind our back, e.g. from django-rq's pages) leave it; a job RQ has ended
  without us (an abandoned job failed by RQ's cleanup) is moved to failed or done; the queued,
  running and waiting counts are set to what the remaining jobs say; failed ids whose job is gone
  leave the failed sets.

  Input:
    KEYS[1]  failed_kinds      the set of failed kinds

    ARGV[1]  now               now (epoch seconds)
    ARGV[2]  job_template      template of a job's hash
    ARGV[3]  pending_template  template of a client's pending set
    ARGV[4]  counts_template   template of a client's counts hash
    ARGV[5]  failed_template   template of a client's failed set
    ARGV[6]  kind_template     template of a failed kind's set
    ARGV[7..] client_ids       the clients to put right

  Output:
    How many clients' counts were changed.
]]
--- @include "includes/pc_move.lua"
local now = tonumber(ARGV[1])
local job_template = ARGV[2]
local pending_template = ARGV[3]
local count_keys = {counts = ARGV[4], failed = ARGV[5], kinds = KEYS[1], kind = ARGV[6]}
local OVER = {failed = 'f', finished = 'x', stopped = 'x', canceled = 'x'}
local changed = 0
for i = 7, #ARGV do
  local client = ARGV[i]
  local pending_key = key_for(pending_template, client)
  local found = {queued = 0, running = 0, retrying = 0}
  local fixed = false
  for _, id in ipairs(redis.call('ZRANGE', pending_key, 0, -1)) do
    local job_key = key_for(job_template, id)
    local status = redis.call('HGET', job_key, 'status')
    if not status then
      redis.call('ZREM', pending_key, id)
      fixed = true
    elseif OVER[status] then
      local ttl = tonumber(redis.call('HGET', job_key, 'failure_ttl') or '') or 0
      local kind = ''
      if OVER[status] == 'f' then kind = 'AbandonedJobError' end
      pc_move(count_keys, job_key, id, OVER[status], now + ttl, kind)
      redis.call('ZREM', pending_key, id)
      fixed = true
    else
      local field = PC_FIELDS[redis.call('HGET', job_key, 'pc') or '']
      if field then found[field] = found[field] + 1 end
    end
  end
  local counts_key = key_for(count_keys.counts, client)
  for field, value in pairs(found) do
    if tonumber(redis.call('HGET', counts_key, field) or '0') ~= value then
      redis.call('HSET', counts_key, field, value)
      fixed = true
    end
  end
  local failed_key = key_for(count_keys.failed, client)
  for _, id in ipairs(redis.call('ZRANGE', failed_key, 0, -1)) do
    if redis.call('EXISTS', key_for(job_template, id)) == 0 then
      forget_failed(count_keys, failed_key, id)
      fixed = true
    end
  end
  if fixed then changed = changed + 1 end
end
return changed
