-- Stores a new survey unless its request id has been seen.
--
-- KEYS: 1 request record  2 survey
-- ARGV: 1 request fingerprint (no newline)  2 how long to keep the request record (s)
--       3 survey id  4 Survey bytes
-- Returns {"ok"} | {"dup", fingerprint, survey id} | {"id_taken"}

local prev = redis.call('GET', KEYS[1])
if prev then
  local nl = string.find(prev, '\n', 1, true)
  return {'dup', string.sub(prev, 1, nl - 1), string.sub(prev, nl + 1)}
end
if redis.call('EXISTS', KEYS[2]) == 1 then return {'id_taken'} end

redis.call('HSET', KEYS[2], 'd', ARGV[4], 'n', 0, 'sat_n', 0, 'sat_m', 0)
redis.call('SET', KEYS[1], ARGV[1] .. '\n' .. ARGV[3], 'EX', ARGV[2])
return {'ok'}
