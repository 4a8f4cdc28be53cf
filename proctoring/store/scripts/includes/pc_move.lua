--[[
  Per-client counts of frames by state (proctoring/queue/counters.py).

  client_of(job_key): a frame job's client, from its hash's `client` (enqueue.lua writes it);
  nil for a job gone or not a frame job.

  pc_move(count_keys, job_key, id, to, expire_at, extra): moves job `id` from the state it is
  counted in (its hash's field `pc`: q queued, r running, s retrying, f failed) to `to` (or x,
  done: counted no more). `extra` (e.g. "completed:2026-11-29", "stale") is counted once, on the
  move to done; on the move to failed it is the error's kind, indexed for the failed-jobs page,
  and `expire_at` (epoch seconds) scores the job in its client's failed set. `count_keys` names
  the keys: counts (template of a client's counts hash), failed (template of a client's failed
  set), kinds (the set of failed kinds), kind (template of a kind's failed set).
  Returns 1 when the job moved, 0 when it was not a frame job or already in `to`.
]]
--- @include "key_for.lua"
local PC_FIELDS = {q = 'queued', r = 'running', s = 'retrying'}
local function client_of(job_key)
  local client = redis.call('HGET', job_key, 'client')
  if client then return client end
  -- Jobs enqueued before the `client` field existed name their client only in their
  -- description, "frame <client id>#<seq>".
  local description = redis.call('HGET', job_key, 'description')
  if not description then return nil end
  return string.match(description, '^frame (.*)#%-?%d+$')
end
local function forget_failed(count_keys, failed_key, id)
  redis.call('ZREM', failed_key, id)
  for _, kind in ipairs(redis.call('SMEMBERS', count_keys.kinds)) do
    redis.call('ZREM', key_for(count_keys.kind, kind), id)
  end
end
local function pc_move(count_keys, job_key, id, to, expire_at, extra)
  local client = client_of(job_key)
  if not client then return 0 end
  local from = redis.call('HGET', job_key, 'pc')
  if from == to then return 0 end
  local counts_key = key_for(count_keys.counts, client)
  if from == 'f' then
    forget_failed(count_keys, key_for(count_keys.failed, client), id)
  elseif from and PC_FIELDS[from] then
    redis.call('HINCRBY', counts_key, PC_FIELDS[from], -1)
  end
  if to == 'f' then
    -- Each failed index outlives its newest entry by a day, and sheds the entries RQ's failed
    -- registry has let expire: bounded in time and in size however long failures go on.
    local now = redis.call('TIME')[1]
    local until_ = math.floor(tonumber(expire_at)) + 86400
    local failed_key = key_for(count_keys.failed, client)
    redis.call('ZREMRANGEBYSCORE', failed_key, '-inf', '(' .. now)
    redis.call('ZADD', failed_key, expire_at, id)
    redis.call('EXPIREAT', failed_key, until_)
    if extra and extra ~= '' then
      local kind_key = key_for(count_keys.kind, extra)
      redis.call('SADD', count_keys.kinds, extra)
      redis.call('EXPIREAT', count_keys.kinds, until_)
      redis.call('ZREMRANGEBYSCORE', kind_key, '-inf', '(' .. now)
      redis.call('ZADD', kind_key, expire_at, id)
      redis.call('EXPIREAT', kind_key, until_)
    end
  elseif PC_FIELDS[to] then
    redis.call('HINCRBY', counts_key, PC_FIELDS[to], 1)
  end
  if to == 'x' then
    if extra and extra ~= '' then redis.call('HINCRBY', counts_key, extra, 1) end
  else
    redis.call('HSET', job_key, 'pc', to)
  end
  return 1
end
