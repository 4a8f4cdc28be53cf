--[[
  key_for(template, id): the key a template made by proctoring/store/keys.py (`keys.template`)
  names for `id`: the template with its "{}" replaced by the id. The one place a script builds a
  key, for the keys of clients and jobs it only discovers while it runs.
]]
local function key_for(template, id)
  local at = string.find(template, '{}', 1, true)
  return string.sub(template, 1, at - 1) .. id .. string.sub(template, at + 2)
end
