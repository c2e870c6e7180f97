-- Credits one ledger entry (after ledger_apply.lua) unless it is there already. The
-- adapter chose the leaderboards from the volunteer's region at the version it read.
--
-- KEYS: 1 volunteer, then from 2 the ledger keys of ledger_apply.lua
-- ARGV: 1 volunteer version read, then from 2 the credit of ledger_apply.lua
-- Returns {"ok", 1 when credited else 0} | {"missing"} | {"retry"}

local version = redis.call('HGET', KEYS[1], 'v')
if not version then return {'missing'} end
if not ledger_is_new(2, 2) then return {'ok', 0} end
if version ~= ARGV[1] then return {'retry'} end
ledger_apply(2, 2)
return {'ok', 1}
