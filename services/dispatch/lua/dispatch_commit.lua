-- One change to one incident's dispatch state, all or nothing.
-- KEYS[1] record hash, KEYS[2] timer zset, KEYS[3] outbox stream, KEYS[4..] offer hashes.
-- ARGV: has_job, expected_job_version, job_version, job_bytes, retain_ms,
--       n_offers, then per offer (expected_version, version, bytes),
--       n_timers, then per timer (offer id, due ms), n_clear, then offer ids,
--       n_events, then per event (key, bytes).
-- Returns {'ok', n_events[, id of the outbox entry before the first, each entry's id]}
--         | {'stale', what, current version}.
-- Every check comes before the first write: Redis does not undo a failed script's writes.
local has_job = ARGV[1] == '1'
local i = 6
local n_offers = tonumber(ARGV[i]); i = i + 1
if has_job then
  local current = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
  if current ~= tonumber(ARGV[2]) then
    return {'stale', 'record', tostring(current)}
  end
end
for o = 1, n_offers do
  local expected = tonumber(ARGV[i + (o - 1) * 3])
  local current = tonumber(redis.call('HGET', KEYS[3 + o], 'v') or '0')
  if current ~= expected then
    return {'stale', 'offer', tostring(current)}
  end
end
local retain = tonumber(ARGV[5])
if has_job then
  redis.call('HSET', KEYS[1], 'v', ARGV[3], 'd', ARGV[4])
  if retain > 0 then redis.call('PEXPIRE', KEYS[1], retain) end
end
for o = 1, n_offers do
  redis.call('HSET', KEYS[3 + o], 'v', ARGV[i + 1], 'd', ARGV[i + 2])
  if retain > 0 then redis.call('PEXPIRE', KEYS[3 + o], retain) end
  i = i + 3
end
local n_timers = tonumber(ARGV[i]); i = i + 1
for _ = 1, n_timers do
  redis.call('ZADD', KEYS[2], ARGV[i + 1], ARGV[i])
  i = i + 2
end
local n_clear = tonumber(ARGV[i]); i = i + 1
for _ = 1, n_clear do
  redis.call('ZREM', KEYS[2], ARGV[i])
  i = i + 1
end
local n_events = tonumber(ARGV[i]); i = i + 1
local out = {'ok', tostring(n_events)}
if n_events > 0 then
  -- The entry before the first (the relay deletes a stream's oldest entries first, so
  -- the last one left is it; "" when all were published), then each new entry's id: the
  -- relay sends them at once when that entry is the last it sent.
  local last = redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', 1)
  out[3] = last[1] and last[1][1] or ''
end
for _ = 1, n_events do
  out[#out + 1] = redis.call('XADD', KEYS[3], '*', 'k', ARGV[i], 'v', ARGV[i + 1])
  i = i + 2
end
return out
