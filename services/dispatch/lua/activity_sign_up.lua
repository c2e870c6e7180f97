-- Signs a volunteer up: a confirmed place while fewer than capacity are taken, else the
-- end of the waitlist. One script per sign-up, so concurrent sign-ups never overfill.
-- Signing up again returns the current participation unchanged; after a cancellation it
-- starts anew.
--
-- KEYS: 1-6 as in activity_common.lua
-- ARGV: 1-3 request  4 volunteer id  5 now (ms)
--       6 Participation bytes (activity_id, volunteer_id, signed_up_at)
-- Returns {"ok", SignUpResponse bytes} | {"dup", fingerprint, first result}
--         | {"no_activity"} | {"no_volunteer"} | {"refused", reason}

local dup = earlier()
if dup then return dup end
local vid = ARGV[4]
local a = redis.call('HMGET', KEYS[2], 'cap', 'ends', 'cancelled', 'confirmed')
if not a[1] then return {'no_activity'} end
local active = redis.call('HGET', KEYS[6], 'a')
if not active then return {'no_volunteer'} end
local current = status_of(vid)
if current ~= 0 and current ~= CANCELLED then return respond(vid, '') end
if a[3] == '1' then return {'refused', 'activity_cancelled'} end
if tonumber(ARGV[5]) >= tonumber(a[2]) then return {'refused', 'activity_ended'} end
if active ~= '1' then return {'refused', 'volunteer_inactive'} end

local status = CONFIRMED
if tonumber(a[4]) < tonumber(a[1]) then
  redis.call('HINCRBY', KEYS[2], 'confirmed', 1)
else
  status = WAITLISTED
  local seq = redis.call('HINCRBY', KEYS[2], 'seq', 1)
  redis.call('ZADD', KEYS[5], seq, vid)
  redis.call('HINCRBY', KEYS[2], 'waitlisted', 1)
end
redis.call('HSET', KEYS[3], vid, ARGV[6])
redis.call('HSET', KEYS[4], vid, status)
return respond(vid, '')
