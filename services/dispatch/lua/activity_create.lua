-- Schedules an activity day: its record with the fields the sign-up scripts read, and its
-- entry in the time index.
--
-- KEYS: 1 request  2 activity  3 time index
-- ARGV: 1-3 request  4 Activity bytes (counters at 0)  5 capacity  6 starts_at (ms)
--       7 ends_at (ms)  8 "1" when cancelled  9 time index member
-- Returns {"ok"} | {"dup", fingerprint, first result} | {"id_taken"}

local dup = earlier()
if dup then return dup end
if redis.call('EXISTS', KEYS[2]) == 1 then return {'id_taken'} end

redis.call('HSET', KEYS[2], 'd', ARGV[4], 'cap', ARGV[5], 'starts', ARGV[6], 'ends', ARGV[7],
           'cancelled', ARGV[8], 'confirmed', 0, 'waitlisted', 0, 'seq', 0)
redis.call('ZADD', KEYS[3], 0, ARGV[9])
remember(ARGV[4])
return {'ok'}
