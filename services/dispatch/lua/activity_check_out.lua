-- Checks a volunteer out and credits the hours in the same step (after
-- volunteer_common.lua, activity_common.lua and ledger_apply.lua). The adapter computed
-- the hours from the participation and volunteer it read; both are checked unchanged.
--
-- KEYS: 1-6 as in activity_common.lua, then from 7 the ledger keys of ledger_apply.lua
-- ARGV: 1-3 request  4 volunteer id  5 Participation bytes read  6 volunteer version read
--       7 Participation bytes to append (checked_out_at, hours, points)
--       then from 8 the credit of ledger_apply.lua
-- Returns {"ok", SignUpResponse bytes, 1 when credited else 0}
--         | {"dup", fingerprint, first result} | {"no_activity"} | {"no_volunteer"}
--         | {"not_signed_up"} | {"refused", reason, status name} | {"retry"}

local dup = earlier()
if dup then return dup end
local vid = ARGV[4]
if redis.call('EXISTS', KEYS[2]) == 0 then return {'no_activity'} end
local status = status_of(vid)
if status == 0 then return {'not_signed_up'} end
if status ~= CHECKED_IN then return {'refused', 'status', STATUS_NAMES[status]} end
local participation = redis.call('HGET', KEYS[3], vid)
if participation ~= ARGV[5] then return {'retry'} end
local version = redis.call('HGET', KEYS[6], 'v')
if not version then return {'no_volunteer'} end
-- The leaderboards follow the volunteer's region: it must be the one the adapter read.
if version ~= ARGV[6] then return {'retry'} end
local credit = ledger_is_new(7, 8)

redis.call('HSET', KEYS[3], vid, participation .. ARGV[7])
redis.call('HSET', KEYS[4], vid, CHECKED_OUT)
if credit then ledger_apply(7, 8) end
local reply = respond(vid, '')
reply[3] = credit and 1 or 0
return reply
