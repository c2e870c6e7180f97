-- A page of a volunteer's offer ids, newest first. Writes nothing.
--
-- KEYS: 1 offer index (zset: offer id by offered at, ms)
-- ARGV: 1 the last offer id of the previous page ("" = first page)  2 ids wanted
-- Returns {"ok", offer ids...} | {"bad_token"}

local start = 0
if ARGV[1] ~= '' then
  local rank = redis.call('ZREVRANK', KEYS[1], ARGV[1])
  if not rank then return {'bad_token'} end
  start = rank + 1
end
return {'ok', redis.call('ZREVRANGE', KEYS[1], start, start + tonumber(ARGV[2]) - 1)}
