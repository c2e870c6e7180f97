-- Shared by the scripts that credit the service-hours ledger. The ledger keys start at
-- KEYS[k]:
--   k entries (hash: entry id -> CreditEntry bytes)  k+1 entries by time (zset)
--   k+2 totals (hash)  k+3 outbox (stream)
--   then per leaderboard a points zset and an hours hash
-- and the credit at ARGV[a]:
--   a entry id  a+1 CreditEntry bytes  a+2 at (ms)  a+3 hours (ms)  a+4 points
--   a+5 "1" when it completes a task  a+6 satisfaction in thousandths (-1 = unrated)
--   a+7 volunteer id  a+8 DispatchEvent bytes (HOURS_CREDITED)  a+9 leaderboard count
-- Totals, leaderboards and the event are written with the entry, never apart from it.

-- False when the entry was credited before: an entry counts once.
local function ledger_is_new(k, a)
  return redis.call('HEXISTS', KEYS[k], ARGV[a]) == 0
end

local function ledger_apply(k, a)
  local id, hours, points, vid = ARGV[a], ARGV[a + 3], ARGV[a + 4], ARGV[a + 7]
  redis.call('HSET', KEYS[k], id, ARGV[a + 1])
  redis.call('ZADD', KEYS[k + 1], ARGV[a + 2], id)
  redis.call('HINCRBY', KEYS[k + 2], 'hours_ms', hours)
  redis.call('HINCRBY', KEYS[k + 2], 'points', points)
  if ARGV[a + 5] == '1' then redis.call('HINCRBY', KEYS[k + 2], 'completed', 1) end
  if tonumber(ARGV[a + 6]) >= 0 then
    redis.call('HINCRBY', KEYS[k + 2], 'satisfaction_milli', ARGV[a + 6])
    redis.call('HINCRBY', KEYS[k + 2], 'rated', 1)
  end
  for b = 0, tonumber(ARGV[a + 9]) - 1 do
    redis.call('ZINCRBY', KEYS[k + 4 + 2 * b], points, vid)
    redis.call('HINCRBY', KEYS[k + 5 + 2 * b], vid, hours)
  end
  redis.call('XADD', KEYS[k + 3], '*', 'k', vid, 'v', ARGV[a + 8])
end

