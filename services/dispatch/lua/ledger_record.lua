-- Reads a volunteer's totals and a page of ledger entries, newest first, at one point in
-- time (so the page agrees with the totals). Writes nothing.
--
-- KEYS: 1 volunteer  2 totals  3 entries (hash)  4 entries by time (zset)
-- ARGV: 1 the last entry id of the previous page ("" = first page)  2 entries wanted
-- Returns {"ok", totals as HGETALL, {CreditEntry bytes...}} | {"missing"} | {"bad_token"}

if redis.call('EXISTS', KEYS[1]) == 0 then return {'missing'} end
local start = 0
if ARGV[1] ~= '' then
  local rank = redis.call('ZREVRANK', KEYS[4], ARGV[1])
  if not rank then return {'bad_token'} end
  start = rank + 1
end
local ids = redis.call('ZREVRANGE', KEYS[4], start, start + tonumber(ARGV[2]) - 1)
local entries = {}
if #ids > 0 then entries = redis.call('HMGET', KEYS[3], unpack(ids)) end
return {'ok', redis.call('HGETALL', KEYS[2]), entries}
