-- Replaces a frozen rating and records the appeal that changed it, once per request id.
--
-- KEYS: 1 the period's frozen ratings  2 the subject's appeals  3 the request's record
-- ARGV: 1 subject id  2 the frozen rating the appeal was decided on (as stored)
--       3 the new rating  4 the appeal bytes  5 the appeal's fingerprint
-- Returns {'ok'} | {'not_frozen'} | {'stale'} (the rating changed since the adapter read
--         it) | {'dup', fingerprint, appeal bytes} (the request id was used before)
local earlier = redis.call('HMGET', KEYS[3], 'fp', 'appeal')
if earlier[1] then return {'dup', earlier[1], earlier[2]} end
local rating = redis.call('HGET', KEYS[1], ARGV[1])
if not rating then return {'not_frozen'} end
if rating ~= ARGV[2] then return {'stale'} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('RPUSH', KEYS[2], ARGV[4])
redis.call('HSET', KEYS[3], 'fp', ARGV[5], 'appeal', ARGV[4])
return {'ok'}
