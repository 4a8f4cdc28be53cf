--[[
  after_priority(list, value, is_priority, scan): puts `value` in `list` after the priority
  entries at its head (`is_priority(entry)`) and before the first normal one; past `scan`
  priority entries, right after them; at the tail when all are priority ones. For the queue, a
  client's waiting list and the sparse ring alike.

  The priority entries are the list's head (each goes in after the others), so where they end
  is found by halving the first `scan` entries: ~log2(scan) looks, not one per priority entry.
  At an exam's start every camera's first frame is a priority one: hundreds of them wait at
  the head at once, and a scan entry by entry (an HGET each, two for the ring) made every new
  camera's first frame cost Redis ~1 ms, which the gateways' acks all waited behind. Where the
  head is not all priority (a ring's client whose priority frame was taken keeps its place),
  the frame goes after a priority entry and before a normal one, maybe not the first such.
]]
local function after_priority(list, value, is_priority, scan)
  local length = redis.call('LLEN', list)
  local window = math.min(length, scan)
  local low, high = 0, window  -- entries before `low` are priority, from `high` on not
  while low < high do
    local middle = math.floor((low + high) / 2)
    if is_priority(redis.call('LINDEX', list, middle)) then low = middle + 1 else high = middle end
  end
  if low < window then
    redis.call('LINSERT', list, 'BEFORE', redis.call('LINDEX', list, low), value)
  elseif low > 0 and length > scan then
    redis.call('LINSERT', list, 'AFTER', redis.call('LINDEX', list, low - 1), value)
  else
    redis.call('RPUSH', list, value)
  end
end
