-- Writes one accepted change of an incident atomically: the record, its history, its
-- indexes, its SLA deadlines, its idempotency record and its outbox event.
-- Every key shares the shard's hash tag, so this runs on one Redis Cluster slot.
--
-- KEYS: 1 record  2 history  3 request  4 time index  5 meta index  6 sla  7 outbox
-- ARGV: 1 expected version (0 = new record)  2 new version  3 record bytes
--       4 history entry bytes  5 "1" when a request id is given  6 fingerprint
--       7 request retention (s)  8 reported_ms  9 incident id  10 meta
--       11 event bytes  12 fired sla member ("" = none)  13 n deadlines, then n pairs
--       (due_ms, member)
-- Returns {"ok"} | {"dup", fingerprint, first result} | {"gone"} | {"exists"}
--         | {"missing"} | {"stale", current version}

if ARGV[5] == '1' then
  local prev = redis.call('HMGET', KEYS[3], 'f', 'r')
  if prev[1] then return {'dup', prev[1], prev[2]} end
end
if ARGV[12] ~= '' and not redis.call('ZSCORE', KEYS[6], ARGV[12]) then
  return {'gone'}
end
local cur = redis.call('HGET', KEYS[1], 'v')
local expected = tonumber(ARGV[1])
if expected == 0 then
  if cur then return {'exists'} end
else
  if not cur then return {'missing'} end
  if tonumber(cur) ~= expected then return {'stale', cur} end
end

redis.call('HSET', KEYS[1], 'v', ARGV[2], 'd', ARGV[3])
redis.call('RPUSH', KEYS[2], ARGV[4])
if expected == 0 then redis.call('ZADD', KEYS[4], ARGV[8], ARGV[9]) end
redis.call('HSET', KEYS[5], ARGV[9], ARGV[10])
if ARGV[12] ~= '' then redis.call('ZREM', KEYS[6], ARGV[12]) end
local n = tonumber(ARGV[13])
for i = 1, n do
  redis.call('ZADD', KEYS[6], ARGV[12 + 2 * i], ARGV[13 + 2 * i])
end
redis.call('XADD', KEYS[7], '*', 'k', ARGV[9], 'v', ARGV[11])
if ARGV[5] == '1' then
  redis.call('HSET', KEYS[3], 'f', ARGV[6], 'r', ARGV[3])
  redis.call('EXPIRE', KEYS[3], ARGV[7])
end
return {'ok'}
