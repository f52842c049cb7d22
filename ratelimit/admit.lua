-- Pair rate and tier for one send, atomically.
-- KEYS[1] the pair key (number and recipient), KEYS[2] the portfolio's sorted set of recipients
-- ARGV[1] pair interval ms, ARGV[2] tier limit (0 = unlimited), ARGV[3] tier window ms,
-- ARGV[4] recipient, ARGV[5] "1" when the recipient is inside a service window
-- Returns {allowed (1/0), reason, wait ms}.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local pttl = redis.call('PTTL', KEYS[1])
if pttl > 0 then
  return {0, 'pair', pttl}
end

local limit = tonumber(ARGV[2])
if limit > 0 and ARGV[5] ~= '1' then
  local window = tonumber(ARGV[3])
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
  if not redis.call('ZSCORE', KEYS[2], ARGV[4]) then
    if redis.call('ZCARD', KEYS[2]) >= limit then
      local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
      return {0, 'tier', math.max(1, tonumber(oldest[2]) + window - now)}
    end
  end
  redis.call('ZADD', KEYS[2], now, ARGV[4])
end

if tonumber(ARGV[1]) > 0 then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
end
return {1, '', 0}
