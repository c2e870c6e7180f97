-- Applies one change of the residents ledger atomically, if nothing it was computed from
-- has changed since it was read (optimistic concurrency), and records the request's first
-- result for idempotent repeats. Every key shares the ledger's hash tag.
--
-- KEYS: every key the change reads or writes; the arguments refer to them by position.
-- ARGV: 1 request key index (0 = no request record)  2 fingerprint  3 result bytes
--       4 request retention (s)  5 number of guards, then per guard: kind, key index, value
--       then the number of operations, then per operation: kind, key index, a, b
-- Guards: "absent" / "present" (the key does (not) exist), "eq" (the string at the key equals value),
--         "heq" (hash field a equals value; "" = the field is absent).
-- Operations: set k v | del k | zadd k member | zrem k member | sadd k m | srem k m
--             | hset k field value | hdel k field | lpush k v (kept to the newest 1000)
--             | xadd k field value (kept to about 100000 entries)
-- Returns {"ok"} | {"dup", fingerprint, first result} | {"conflict", guard number}

local req = tonumber(ARGV[1])
if req > 0 then
  local prev = redis.call('GET', KEYS[req])
  if prev then
    local nl = string.find(prev, '\n', 1, true)
    return {'dup', string.sub(prev, 1, nl - 1), string.sub(prev, nl + 1)}
  end
end

local i = 5
local ng = tonumber(ARGV[i])
i = i + 1
for g = 1, ng do
  local kind, key, value = ARGV[i], KEYS[tonumber(ARGV[i + 1])], ARGV[i + 2]
  i = i + 3
  if kind == 'absent' then
    if redis.call('EXISTS', key) == 1 then return {'conflict', g} end
  elseif kind == 'present' then
    if redis.call('EXISTS', key) == 0 then return {'conflict', g} end
  elseif kind == 'eq' then
    if redis.call('GET', key) ~= value then return {'conflict', g} end
  else  -- heq: value is "field\nexpected"
    local nl = string.find(value, '\n', 1, true)
    local cur = redis.call('HGET', key, string.sub(value, 1, nl - 1)) or ''
    if cur ~= string.sub(value, nl + 1) then return {'conflict', g} end
  end
end

local nops = tonumber(ARGV[i])
i = i + 1
for _ = 1, nops do
  local kind, key, a, b = ARGV[i], KEYS[tonumber(ARGV[i + 1])], ARGV[i + 2], ARGV[i + 3]
  i = i + 4
  if kind == 'set' then redis.call('SET', key, a)
  elseif kind == 'del' then redis.call('DEL', key)
  elseif kind == 'zadd' then redis.call('ZADD', key, 0, a)
  elseif kind == 'zrem' then redis.call('ZREM', key, a)
  elseif kind == 'sadd' then redis.call('SADD', key, a)
  elseif kind == 'srem' then redis.call('SREM', key, a)
  elseif kind == 'hset' then redis.call('HSET', key, a, b)
  elseif kind == 'hdel' then redis.call('HDEL', key, a)
  elseif kind == 'lpush' then
    redis.call('LPUSH', key, a)
    redis.call('LTRIM', key, 0, 999)
  elseif kind == 'xadd' then redis.call('XADD', key, 'MAXLEN', '~', 100000, '*', a, b)
  else return redis.error_reply('commit.lua: unknown operation ' .. kind)
  end
end

if req > 0 then
  redis.call('SET', KEYS[req], ARGV[2] .. '\n' .. ARGV[3], 'EX', ARGV[4])
end
return {'ok'}
