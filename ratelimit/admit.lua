-- Every limit of one send, atomically, in one round trip: pair rate, tier, then a slot of the
-- number's throughput.
-- KEYS[1] the pair key (number and recipient), KEYS[2] the portfolio's sorted set of recipients,
-- KEYS[3] the number's throughput key (the time its next slot opens, in µs),
-- KEYS[4] the portfolio's seed mark (µs before which slots handed out before a loss may be
-- outstanding; absent when Redis lost the portfolio's state, or never had it)
-- ARGV[1] pair interval ms, ARGV[2] tier limit (0 = unlimited), ARGV[3] tier window ms,
-- ARGV[4] recipient, ARGV[5] "1" when the recipient is inside a service window,
-- ARGV[6] µs between two slots of the number, ARGV[7] the latest slot to hand out, in µs from now,
-- ARGV[8] "1" when the send passed pair and tier already and lost its slot (it woke too late to
-- use it): it takes the next slot, however far, and its pair key and tier entry move with it
-- Returns {allowed (1/0), reason, µs: to wait for the slot when allowed, before asking again when not,
-- and when allowed the slot itself, µs since 1970 on Redis's clock};
-- reason "reseed" asks the caller to rebuild the portfolio's state from Postgres first.
-- Times travel as strings formatted with %.0f: Lua's own number-to-string keeps 14 digits, and
-- microseconds since 1970 have 16.
--
-- Throughput is a GCRA with reservations: a send is given the number's next free slot, and the
-- slot is its whether the sender is on time or not. Refusing sends whose slot has passed (a plain
-- GCRA) loses a slot to every sender that wakes late, and many do on a busy machine.
local t = redis.call('TIME')
local now_us = tonumber(t[1]) * 1000000 + tonumber(t[2])
local now = math.floor(now_us / 1000)

local seeded = redis.call('GET', KEYS[4])
if not seeded then
  return {0, 'reseed', 0}
end

local again = ARGV[8] == '1'
local pttl = redis.call('PTTL', KEYS[1])
if pttl > 0 and not again then
  return {0, 'pair', pttl * 1000}
end

local limit = tonumber(ARGV[2])
local counts = limit > 0 and ARGV[5] ~= '1'
if counts and not again then
  local window = tonumber(ARGV[3])
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
  if not redis.call('ZSCORE', KEYS[2], ARGV[4]) and redis.call('ZCARD', KEYS[2]) >= limit then
    local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
    return {0, 'tier', math.max(1, tonumber(oldest[2]) + window - now) * 1000}
  end
end

local interval = tonumber(ARGV[6])
local slot = math.max(tonumber(redis.call('GET', KEYS[3]) or 0), now_us, tonumber(seeded))
if slot - now_us > tonumber(ARGV[7]) and not again then
  return {0, 'throughput', slot - now_us - tonumber(ARGV[7])}
end
redis.call('SET', KEYS[3], string.format('%.0f', slot + interval), 'PX', math.ceil((slot + interval - now_us) / 1000) + 1000)
local wait = slot - now_us

if counts then
  redis.call('ZADD', KEYS[2], now + math.floor(wait / 1000), ARGV[4])
end
if tonumber(ARGV[1]) > 0 then
  redis.call('SET', KEYS[1], '1', 'PX', tonumber(ARGV[1]) + math.ceil(wait / 1000))
end
return {1, '', wait, string.format('%.0f', slot)}
