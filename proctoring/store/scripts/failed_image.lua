--[[
  What a finally failed frame keeps of its image (proctoring/worker/outcomes.py `finish_failed`).
  A frame refused for a reason its client caused (`mode` 0) keeps only its envelope's header.
  Any other keeps its image while the kept images stay within `max_bytes` in all and
  `client_max_bytes` per client; past either, the oldest kept images (this one included) are
  cut back to their header, and each cut is counted. An image whose failed job was retried,
  deleted or has expired is forgotten without touching its key. (This job is not in the failed
  registry yet: RQ moves it there after the failure callback that runs this script.)

  Input:
    KEYS[1]  frame             the failed frame's envelope
    KEYS[2]  images            sorted set: job ids whose image is kept, by failure time
    KEYS[3]  sizes             hash: job id -> "<image bytes> <client id>" of each kept image
    KEYS[4]  total             bytes of all kept images
    KEYS[5]  client_bytes      hash: client id -> bytes of its kept images
    KEYS[6]  failed_registry   RQ's failed job registry
    KEYS[7]  totals            hash of totals, where the cuts are counted

    ARGV[1]  job_id            the failed job
    ARGV[2]  client_id         its client
    ARGV[3]  mode              1: keep the image within the caps; 0: cut it now; -: forget it
                               (its job was retried or deleted), its key untouched
    ARGV[4]  now               epoch seconds
    ARGV[5]  expired_before    kept images of jobs that failed before this (epoch seconds) are gone
    ARGV[6]  max_bytes         PROCTORING_FAILED_BYTES_MAX
    ARGV[7]  client_max_bytes  PROCTORING_FAILED_BYTES_PER_CLIENT
    ARGV[8]  client_template   template of a client's sorted set of kept images
    ARGV[9]  frame_template    template of a job's envelope
    ARGV[10] evicted_field     the totals' field counting the images cut by the caps

  Output:
    The number of images cut by the caps (this one included).
]]
--- @include "includes/key_for.lua"
local frame_key, images_key, sizes_key, total_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local client_bytes_key, registry_key, totals_key = KEYS[5], KEYS[6], KEYS[7]
local job_id, client_id, mode, now = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local max_bytes, client_max = tonumber(ARGV[6]), tonumber(ARGV[7])
local client_template, frame_template = ARGV[8], ARGV[9]

-- An envelope is "PF1", its header's length (2 bytes, big-endian), the header, the image.
local function header_length(key)
  local head = redis.call('GETRANGE', key, 0, 4)
  if string.len(head) < 5 or string.sub(head, 1, 3) ~= 'PF1' then
    return nil
  end
  return 5 + string.byte(head, 4) * 256 + string.byte(head, 5)
end

-- Cuts an envelope back to its header, its expiry unchanged; true when there was an image.
local function cut(key)
  local length = header_length(key)
  if not length or redis.call('STRLEN', key) <= length then
    return false
  end
  redis.call('SET', key, redis.call('GETRANGE', key, 0, length - 1), 'KEEPTTL')
  return true
end

-- Forgets a kept image; with `cut_it`, cuts it too while its job is still failed.
local function forget(id, cut_it)
  local entry = redis.call('HGET', sizes_key, id)
  redis.call('ZREM', images_key, id)
  if not entry then
    return false
  end
  local bytes, owner = string.match(entry, '^(%d+) (.*)$')
  redis.call('HDEL', sizes_key, id)
  redis.call('DECRBY', total_key, bytes)
  redis.call('ZREM', key_for(client_template, owner), id)
  if tonumber(redis.call('HINCRBY', client_bytes_key, owner, -tonumber(bytes))) <= 0 then
    redis.call('HDEL', client_bytes_key, owner)
  end
  if cut_it and (id == job_id or redis.call('ZSCORE', registry_key, id)) then
    return cut(key_for(frame_template, id))
  end
  return false
end

for _, id in ipairs(redis.call('ZRANGEBYSCORE', images_key, '-inf', '(' .. ARGV[5])) do
  forget(id, false)
end
-- A retried job that failed again is counted once.
forget(job_id, false)
if mode == '-' then
  return 0
end

local length = header_length(frame_key)
if not length then
  return 0
end
local bytes = redis.call('STRLEN', frame_key) - length
if bytes <= 0 then
  return 0
end
if mode == '0' then
  cut(frame_key)
  return 0
end

local client_images = key_for(client_template, client_id)
redis.call('ZADD', images_key, now, job_id)
redis.call('ZADD', client_images, now, job_id)
-- Outlives its newest image by a day: the images of a client gone silent do not keep the key.
redis.call('EXPIRE', client_images, math.ceil(now - tonumber(ARGV[5])) + 86400)
redis.call('HSET', sizes_key, job_id, bytes .. ' ' .. client_id)
redis.call('INCRBY', total_key, bytes)
redis.call('HINCRBY', client_bytes_key, client_id, bytes)

local evicted = 0
local function evict_oldest(set_key)
  local oldest = redis.call('ZRANGE', set_key, 0, 0)[1]
  if not oldest then
    return false
  end
  redis.call('ZREM', set_key, oldest)
  if forget(oldest, true) then
    evicted = evicted + 1
  end
  return true
end
while tonumber(redis.call('HGET', client_bytes_key, client_id) or 0) > client_max do
  if not evict_oldest(client_images) then
    break
  end
end
while tonumber(redis.call('GET', total_key) or 0) > max_bytes do
  if not evict_oldest(images_key) then
    break
  end
end
if evicted > 0 then
  redis.call('HINCRBY', totals_key, ARGV[10], evicted)
end
return evicted
