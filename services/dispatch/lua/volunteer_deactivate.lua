-- Takes a volunteer off duty and frees their resident id. The region index keeps them
-- (lists may include inactive volunteers). A volunteer already off duty is returned as
-- they are.
--
-- KEYS: 1 request  2 volunteer  3 resident index (unused when ARGV[7] is "0")
--       4 change log  5 totals
-- ARGV: 1-3 request  4 volunteer id  5 version read  6 new Volunteer bytes
--       7 "1" when the record has a resident id
-- Returns {"ok", record, totals as HGETALL} | {"dup", fingerprint, first result}
--         | {"missing"} | {"retry"}

local dup = earlier()
if dup then return dup end
local id = ARGV[4]
local cur = redis.call('HMGET', KEYS[2], 'v', 'a', 'd')
if not cur[1] then return {'missing'} end
if cur[2] ~= '1' then
  remember(cur[3])
  return {'ok', cur[3], redis.call('HGETALL', KEYS[5])}
end
if cur[1] ~= ARGV[5] then return {'retry'} end

if ARGV[7] == '1' and redis.call('GET', KEYS[3]) == id then redis.call('DEL', KEYS[3]) end
redis.call('HSET', KEYS[2], 'd', ARGV[6], 'v', tonumber(cur[1]) + 1, 'a', '0')
log_change(KEYS[4], id)
remember(ARGV[6])
return {'ok', ARGV[6], redis.call('HGETALL', KEYS[5])}
