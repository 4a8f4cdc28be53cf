--[[
  Counts one failed call to the proctoring API (proctoring/queue/breaker.py) and opens the
  circuit once `threshold` calls in a row have failed.

  Input:
    KEYS[1]  api_failures  the count of consecutive failed calls
    KEYS[2]  circuit_open  set while the circuit is open

    ARGV[1]  threshold     failures that open the circuit
    ARGV[2]  cooldown      seconds the circuit stays open
    ARGV[3]  now           now (epoch seconds), kept in the open flag

  Output:
    1 when this failure opened the circuit, else 0.
]]
local failures_key = KEYS[1]
local open_key = KEYS[2]
local failures = redis.call('INCR', failures_key)
redis.call('EXPIRE', failures_key, 3600)
if failures >= tonumber(ARGV[1]) and redis.call('EXISTS', open_key) == 0 then
  redis.call('SET', open_key, ARGV[3], 'EX', ARGV[2])
  return 1
end
return 0
