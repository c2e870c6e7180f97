-- Replaces a volunteer's profile, computed by the adapter from the version it read, and
-- moves its resident and region index entries along.
--
-- KEYS: 1 request  2 volunteer  3 old resident index  4 new resident index
--       5 region index  6 change log  7 totals
-- ARGV: 1-3 request  4 volunteer id  5 expected version (0 = any)  6 version read
--       7 new Volunteer bytes  8 old region member  9 new region member
--       10 "1" when the old record has a resident id  11 "1" when the new one has
-- Returns {"ok", record, totals as HGETALL} | {"dup", fingerprint, first result}
--         | {"missing"} | {"inactive"} | {"stale", current version} | {"retry"}
--         | {"resident_taken", volunteer id}

local dup = earlier()
if dup then return dup end
local id = ARGV[4]
local cur = redis.call('HMGET', KEYS[2], 'v', 'a')
if not cur[1] then return {'missing'} end
if cur[2] ~= '1' then return {'inactive'} end
local expected = tonumber(ARGV[5])
if expected ~= 0 and tonumber(cur[1]) ~= expected then return {'stale', cur[1]} end
-- Changed since the adapter read it: the new record was computed from an old one.
if cur[1] ~= ARGV[6] then return {'retry'} end
if ARGV[11] == '1' then
  local holder = redis.call('GET', KEYS[4])
  if holder and holder ~= id then return {'resident_taken', holder} end
end

if ARGV[10] == '1' and KEYS[3] ~= KEYS[4] and redis.call('GET', KEYS[3]) == id then
  redis.call('DEL', KEYS[3])
end
if ARGV[11] == '1' then redis.call('SET', KEYS[4], id) end
if ARGV[8] ~= ARGV[9] then
  redis.call('ZREM', KEYS[5], ARGV[8])
  redis.call('ZADD', KEYS[5], 0, ARGV[9])
end
redis.call('HSET', KEYS[2], 'd', ARGV[7], 'v', tonumber(cur[1]) + 1)
log_change(KEYS[6], id)
remember(ARGV[7])
return {'ok', ARGV[7], redis.call('HGETALL', KEYS[7])}
