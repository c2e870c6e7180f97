-- Writes one accepted change of an incident atomically: the record, its history, its
-- indexes, its SLA deadlines, its idempotency record and its outbox event.
-- Every key shares the shard's hash tag, so this runs on one Redis Cluster slot.
-- Each redis.call is also an AOF entry, so the script keeps to as few as it can.
--
-- KEYS: 1 record  2 history  3 request  4 time index  5 sla  6 outbox
-- ARGV: 1 expected version (0 = new record)  2 new version  3 record bytes
--       4 history entry bytes  5 "1" when a request id is given  6 fingerprint (no newline)
--       7 request retention (s)  8 reported_ms  9 incident id  10 meta (list filters)
--       11 event bytes  12 fired sla member ("" = none)  13 n deadlines, then n pairs
--       (due_ms, member)
-- Returns {"ok", outbox entry id, id of the entry before it or ""}
--         | {"dup", fingerprint, first result} | {"gone"} | {"exists"}
--         | {"missing"} | {"stale", current version}

if ARGV[5] == '1' then
  -- The request record is "<fingerprint>\n<first result>".
  local prev = redis.call('GET', KEYS[3])
  if prev then
    local nl = string.find(prev, '\n', 1, true)
    return {'dup', string.sub(prev, 1, nl - 1), string.sub(prev, nl + 1)}
  end
end
if ARGV[12] ~= '' and not redis.call('ZSCORE', KEYS[5], ARGV[12]) then
  return {'gone'}
end
local cur = redis.call('HGET', KEYS[1], 'v')
local expected = tonumber(ARGV[1])
if expected == 0 then
  if cur then return {'exists'} end
else
  if not cur then return {'missing'} end
  if tonumber(cur) ~= expected then return {'stale', cur} end
end

redis.call('HSET', KEYS[1], 'v', ARGV[2], 'd', ARGV[3], 'm', ARGV[10])
redis.call('RPUSH', KEYS[2], ARGV[4])
if expected == 0 then redis.call('ZADD', KEYS[4], ARGV[8], ARGV[9]) end
if ARGV[12] ~= '' then redis.call('ZREM', KEYS[5], ARGV[12]) end
local n = tonumber(ARGV[13])
if n > 0 then redis.call('ZADD', KEYS[5], unpack(ARGV, 14, 13 + 2 * n)) end
-- The entry before this one (the relay deletes a stream's oldest entries first, so the
-- last one left is it; none when all were published) lets the relay send this one at
-- once when that is the last it sent.
local last = redis.call('XREVRANGE', KEYS[6], '+', '-', 'COUNT', 1)
local id = redis.call('XADD', KEYS[6], '*', 'k', ARGV[9], 'v', ARGV[11])
if ARGV[5] == '1' then
  redis.call('SET', KEYS[3], ARGV[6] .. '\n' .. ARGV[3], 'EX', ARGV[7])
end
return {'ok', id, last[1] and last[1][1] or ''}
