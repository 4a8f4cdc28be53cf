--[[
  take_gate(open_key, failures_key, probe_key, n, threshold, cooldown): how many of `n` jobs the
  API's circuit breaker (proctoring/queue/breaker.py) lets a take start now: all while it is
  closed (or `threshold` is 0: no breaker), one, the probe, once `threshold` consecutive calls
  have failed and the cooldown has passed; -2 while the circuit is open, -3 while its probe is
  out. The probe flag lasts `cooldown` seconds, should its job never end.
]]
local function take_gate(open_key, failures_key, probe_key, n, threshold, cooldown)
  if threshold > 0 then
    if redis.call('EXISTS', open_key) == 1 then return -2 end
    if tonumber(redis.call('GET', failures_key) or '0') >= threshold then
      if not redis.call('SET', probe_key, '1', 'NX', 'EX', cooldown) then return -3 end
      return 1
    end
  end
  return n
end
