-- Registers a volunteer: the record, its resident index entry, its region index entry and
-- a change log entry.
--
-- KEYS: 1 request  2 volunteer  3 resident index (unused when ARGV[6] is "0")
--       4 region index  5 change log
-- ARGV: 1-3 request  4 volunteer id  5 Volunteer bytes  6 "1" when it has a resident id
--       7 region index member
-- Returns {"ok"} | {"dup", fingerprint, first result} | {"resident_taken", volunteer id}
--         | {"id_taken"}

local dup = earlier()
if dup then return dup end
if ARGV[6] == '1' then
  local holder = redis.call('GET', KEYS[3])
  if holder then return {'resident_taken', holder} end
end
if redis.call('EXISTS', KEYS[2]) == 1 then return {'id_taken'} end

redis.call('HSET', KEYS[2], 'd', ARGV[5], 'v', '1', 'a', '1')
if ARGV[6] == '1' then redis.call('SET', KEYS[3], ARGV[4]) end
redis.call('ZADD', KEYS[4], 0, ARGV[7])
log_change(KEYS[5], ARGV[4])
remember(ARGV[5])
return {'ok'}
