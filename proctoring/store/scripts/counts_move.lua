--[[
  Moves a frame job to another state in its client's counts (proctoring/queue/counters.py).

  Input:
    KEYS[1]  job              the job's hash
    KEYS[2]  failed_kinds     the set of failed kinds

    ARGV[1]  job_id           the job's id
    ARGV[2]  to               the new state: q queued, r running, s retrying, f failed, x done
    ARGV[3]  expire_at        when the failed registry lets it expire (epoch seconds, for f)
    ARGV[4]  extra            on x, a counter to add one to; on f, the error's kind ("" for none)
    ARGV[5]  counts_template  template of a client's counts hash
    ARGV[6]  failed_template  template of a client's failed set
    ARGV[7]  kind_template    template of a failed kind's set

  Output:
    1 if the job moved, 0 if it is no frame job or was already in that state.
]]
--- @include "includes/pc_move.lua"
local count_keys = {counts = ARGV[5], failed = ARGV[6], kinds = KEYS[2], kind = ARGV[7]}
return pc_move(count_keys, KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
