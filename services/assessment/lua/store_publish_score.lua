-- Writes a subject's score event to the outbox unless another replica published one since
-- the caller looked, or it says what the last one said. Clears the subject's mark if no
-- fold changed the subject since the caller looked; otherwise keeps it, due at ARGV[8], so
-- that change gets its own event.
--
-- KEYS: 1 last score events ("<kind>:<subject>" -> "<published at ms>|<digest>")
--       2 dirty marks  3 outbox stream  4 change counts
-- ARGV: 1 "<kind>:<subject>" (also the outbox entry's key)  2 when the caller saw the last
--       event published (ms; "" for never)  3 digest  4 '1' when there is an event
--       5 now (ms)  6 event bytes  7 the change count the caller saw  8 next due (ms)
-- Returns {'ok'} | {'raced'} | {'unchanged'}
local last = redis.call('HGET', KEYS[1], ARGV[1])
local published_at, digest = '', nil
if last then
  local bar = string.find(last, '|', 1, true)
  if bar then
    published_at = string.sub(last, 1, bar - 1)
    digest = string.sub(last, bar + 1)
  else
    published_at = last
  end
end
if (redis.call('HGET', KEYS[4], ARGV[1]) or '0') == ARGV[7] then
  redis.call('ZREM', KEYS[2], ARGV[1])
else
  redis.call('ZADD', KEYS[2], 'XX', ARGV[8], ARGV[1])
end
if published_at ~= ARGV[2] then return {'raced'} end
if ARGV[4] ~= '1' or digest == ARGV[3] then return {'unchanged'} end
redis.call('XADD', KEYS[3], '*', 'k', ARGV[1], 'v', ARGV[6])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[5] .. '|' .. ARGV[3])
return {'ok'}
