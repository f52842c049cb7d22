-- Drops every portfolio's seed mark when the Redis answering is not the one they were seeded on.
-- KEYS[1] = wa:replid, the replication id of the Redis the marks were set on.
-- ARGV[1] = this Redis's replication id (INFO replication's master_replid).
-- A replica promoted after its primary was lost has a new id, and may lack the primary's last
-- writes (replication is asynchronous): tier entries of sends admitted just before the loss.
-- Without its mark, each portfolio's next send reseeds the tier from Postgres, which recorded
-- them. One atomic call: no send is checked between the compare and the drop. Answers how many
-- marks were dropped.
local was = redis.call('GET', KEYS[1])
if was == ARGV[1] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1])
if not was then
  return 0 -- the first connection ever (or since a wipe, which took the marks too)
end
local dropped, cursor = 0, '0'
repeat
  local page = redis.call('SCAN', cursor, 'MATCH', 'wa:{p*}:seeded', 'COUNT', 1000)
  cursor = page[1]
  for _, key in ipairs(page[2]) do
    dropped = dropped + redis.call('DEL', key)
  end
until cursor == '0'
return dropped
