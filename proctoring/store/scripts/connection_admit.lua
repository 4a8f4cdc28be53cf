--[[
  Takes a place for a new camera socket in its IP address's and its attempt's sets of open
  sockets (proctoring/gateway/connection_limits.py), unless either is at its limit. Members are
  scored by when their lease runs out; expired ones leave first.

  Input:
    KEYS[1]  ip_sockets       the open sockets of the IP address
    KEYS[2]  attempt_sockets  the open sockets of the attempt

    ARGV[1]  now              now (epoch seconds)
    ARGV[2]  lease_end        when the new socket's lease runs out (epoch seconds)
    ARGV[3]  member           the new socket's id
    ARGV[4]  ip_limit         the most sockets per IP address (0: no limit)
    ARGV[5]  attempt_limit    the most sockets per attempt (0: no limit)
    ARGV[6]  lease            the lease in seconds (the sets' TTL)

  Output:
    0 admitted, 1 the IP address is at its limit, 2 the attempt is (nothing written for 1 and 2).
]]
local ip_sockets = KEYS[1]
local attempt_sockets = KEYS[2]
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', ip_sockets, '-inf', now)
redis.call('ZREMRANGEBYSCORE', attempt_sockets, '-inf', now)
local ip_limit = tonumber(ARGV[4])
local attempt_limit = tonumber(ARGV[5])
if ip_limit > 0 and redis.call('ZCARD', ip_sockets) >= ip_limit then return 1 end
if attempt_limit > 0 and redis.call('ZCARD', attempt_sockets) >= attempt_limit then return 2 end
for _, key in ipairs({ip_sockets, attempt_sockets}) do
  redis.call('ZADD', key, ARGV[2], ARGV[3])
  redis.call('EXPIRE', key, ARGV[6])
end
return 0
