--[[
  A job back in the queue (a retry that is due, an abandoned job retried, a failed job requeued)
  joins its client's waiting list, and the client the sparse ring if the job is its only
  one waiting (proctoring/queue/fairness.py).

  Input:
    KEYS[1]  waiting      the client's waiting list
    KEYS[2]  sparse_ring  the sparse ring (clients with few frames waiting)

    ARGV[1]  job_id       the job's id
    ARGV[2]  client_id    its client's id
    ARGV[3]  at_front     "1" to join at the front of the waiting list, else at its back
    ARGV[4]  ttl          the waiting list's TTL (seconds)

  Output:
    Nothing.
]]
local waiting_key = KEYS[1]
local sparse_ring_key = KEYS[2]
if ARGV[3] == '1' then
  redis.call('LPUSH', waiting_key, ARGV[1])
else
  redis.call('RPUSH', waiting_key, ARGV[1])
end
redis.call('EXPIRE', waiting_key, ARGV[4])
if redis.call('LLEN', waiting_key) == 1 then redis.call('RPUSH', sparse_ring_key, ARGV[2]) end
