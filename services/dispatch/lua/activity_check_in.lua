-- Checks a confirmed volunteer in, from an hour before the start until the end.
--
-- KEYS: 1-6 as in activity_common.lua
-- ARGV: 1-3 request  4 volunteer id  5 now (ms)  6 Participation bytes to append
--       (checked_in_at)
-- Returns {"ok", SignUpResponse bytes} | {"dup", fingerprint, first result}
--         | {"no_activity"} | {"not_signed_up"} | {"refused", reason[, status name]}

local dup = earlier()
if dup then return dup end
local vid = ARGV[4]
local a = redis.call('HMGET', KEYS[2], 'starts', 'ends', 'cancelled')
if not a[1] then return {'no_activity'} end
local status = status_of(vid)
if status == 0 then return {'not_signed_up'} end
if status ~= CONFIRMED then return {'refused', 'status', STATUS_NAMES[status]} end
if a[3] == '1' then return {'refused', 'activity_cancelled'} end
local now = tonumber(ARGV[5])
if now < tonumber(a[1]) - 3600000 then return {'refused', 'too_early'} end
if now >= tonumber(a[2]) then return {'refused', 'activity_ended'} end

redis.call('HSET', KEYS[3], vid, redis.call('HGET', KEYS[3], vid) .. ARGV[6])
redis.call('HSET', KEYS[4], vid, CHECKED_IN)
return respond(vid, '')
