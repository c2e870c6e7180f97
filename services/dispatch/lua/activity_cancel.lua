-- Cancels a sign-up. A confirmed place freed goes to the first on the waitlist.
--
-- KEYS: 1-6 as in activity_common.lua
-- ARGV: 1-3 request  4 volunteer id
-- Returns {"ok", SignUpResponse bytes} | {"dup", fingerprint, first result}
--         | {"no_activity"} | {"not_signed_up"} | {"refused", reason, status name}

local dup = earlier()
if dup then return dup end
local vid = ARGV[4]
local capacity = redis.call('HGET', KEYS[2], 'cap')
if not capacity then return {'no_activity'} end
local status = status_of(vid)
if status == 0 then return {'not_signed_up'} end
if status == CHECKED_IN or status == CHECKED_OUT then
  return {'refused', 'status', STATUS_NAMES[status]}
end
if status == CANCELLED then return respond(vid, '') end

local promoted = ''
if status == WAITLISTED then
  redis.call('ZREM', KEYS[5], vid)
  redis.call('HINCRBY', KEYS[2], 'waitlisted', -1)
else
  local confirmed = redis.call('HINCRBY', KEYS[2], 'confirmed', -1)
  local first = redis.call('ZRANGE', KEYS[5], 0, 0)[1]
  if first and confirmed < tonumber(capacity) then
    promoted = first
    redis.call('ZREM', KEYS[5], first)
    redis.call('HINCRBY', KEYS[2], 'waitlisted', -1)
    redis.call('HINCRBY', KEYS[2], 'confirmed', 1)
    redis.call('HSET', KEYS[4], first, CONFIRMED)
  end
end
redis.call('HSET', KEYS[4], vid, CANCELLED)
return respond(vid, promoted)
