-- Adds one dispatch event's counts to one or more generations, once per generation.
--
-- KEYS: 1 generations  2 dirty marks  3 change counts  then the dedupe sets and every key the operations
--       name (referred to by index)
-- ARGV: 1 generations revision expected  2 now (ms)  3 event id  4 writes (w)
--       then per write: generation, index of its dedupe set, operations (read_ops)
-- Returns {'ok', writes applied} | {'stale', 'generations', revision}
local now_ms = ARGV[2]
local n = tonumber(ARGV[4])
local writes = {}
local i = 5
for w = 1, n do
  local write = {gen = tonumber(ARGV[i]), seen = KEYS[tonumber(ARGV[i + 1])]}
  write.ops, i = read_ops(i + 2)
  writes[w] = write
end

local revision = gen_revision()
if revision ~= tonumber(ARGV[1]) then
  return {'stale', 'generations', tostring(revision)}
end

local current = tonumber(gen_get('current', '1'))
local applied = 0
for _, write in ipairs(writes) do
  if redis.call('SADD', write.seen, ARGV[3]) == 1 then
    apply_ops(write.ops, write.gen == current, now_ms)
    applied = applied + 1
  end
end
return {'ok', applied}
