-- Counts a declined or expired offer in the volunteer's totals, once per offer id.
--
-- KEYS: 1 volunteer  2 offers counted (set)  3 totals
-- ARGV: 1 offer id  2 totals field ("declined" or "expired")
-- Returns {"ok", 1 when counted now else 0} | {"missing"}

if redis.call('EXISTS', KEYS[1]) == 0 then return {'missing'} end
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return {'ok', 0} end
redis.call('HINCRBY', KEYS[3], ARGV[2], 1)
return {'ok', 1}
