--[[
  after_priority(list, value, is_priority, scan): puts `value` in `list` after the priority
  entries at its head (`is_priority(entry)`) and before the first normal one; past `scan`
  priority entries, right after them (the scan stops there); at the tail when all are priority
  ones. For the queue, a client's waiting list and the sparse ring alike.
]]
local function after_priority(list, value, is_priority, scan)
  local pivot, last = nil, nil
  for _, other in ipairs(redis.call('LRANGE', list, 0, scan - 1)) do
    if not is_priority(other) then pivot = other break end
    last = other
  end
  if pivot then
    redis.call('LINSERT', list, 'BEFORE', pivot, value)
  elseif last and redis.call('LLEN', list) > scan then
    redis.call('LINSERT', list, 'AFTER', last, value)
  else
    redis.call('RPUSH', list, value)
  end
end
