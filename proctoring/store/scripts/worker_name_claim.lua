--[[
  Claims a worker name for a starting worker (proctoring/worker/names.py): free unless a worker
  of that name is registered and has not died (RQ's own test in `register_birth`) or another
  worker claimed the name moments ago.

  Input:
    KEYS[1]  worker   RQ's worker hash of the name
    KEYS[2]  claim    the name's claim

    ARGV[1]  ttl      seconds the claim lasts
    ARGV[2]  claimer  who claims it (host, pid, random)

  Output:
    1 when the name is now this claimer's, else 0.
]]
local worker_key = KEYS[1]
local claim_key = KEYS[2]
if redis.call('EXISTS', worker_key) == 1 and redis.call('HEXISTS', worker_key, 'death') == 0 then
  return 0
end
if redis.call('SET', claim_key, ARGV[2], 'NX', 'EX', ARGV[1]) then return 1 end
return 0
