-- Folds one incident's new facts into one or more generations, all or nothing.
--
-- KEYS: 1 generations  2 dirty marks  3 change counts  then the facts hashes and every key the operations
--       name (referred to by index)
-- ARGV: 1 generations revision expected  2 now (ms)  3 writes (w)
--       then per write: generation, facts revision expected, index of its facts hash,
--       facts bytes, membership region, membership cells ("" when none), operations
--       (read_ops)
-- Returns {'ok'} | {'stale', 'generations', revision}
--       | {'stale', 'incident', generation, revision}
--
-- The membership region and cells are the incident's people as they are now counted in
-- the ranking memberships, and the region they are counted under; the adapter reads them
-- back to undo them when the facts move. They change only together with `rev`, so the
-- revision check below also proves the adapter computed from the values stored here.
-- Every check comes before the first write: Redis does not undo a failed script's writes.
local now_ms = ARGV[2]
local n = tonumber(ARGV[3])
local writes = {}
local i = 4
for w = 1, n do
  local write = {
    gen = tonumber(ARGV[i]),
    expected = tonumber(ARGV[i + 1]),
    key = KEYS[tonumber(ARGV[i + 2])],
    facts = ARGV[i + 3],
    mregion = ARGV[i + 4],
    mcells = ARGV[i + 5],
  }
  write.ops, i = read_ops(i + 6)
  writes[w] = write
end

local revision = gen_revision()
if revision ~= tonumber(ARGV[1]) then
  return {'stale', 'generations', tostring(revision)}
end
for _, write in ipairs(writes) do
  local rev = tonumber(redis.call('HGET', write.key, 'rev') or '0')
  if rev ~= write.expected then
    return {'stale', 'incident', tostring(write.gen), tostring(rev)}
  end
end

local current = tonumber(gen_get('current', '1'))
for _, write in ipairs(writes) do
  redis.call('HSET', write.key, 'rev', string.format('%d', write.expected + 1),
             'facts', write.facts)
  if write.mcells == '' then
    redis.call('HDEL', write.key, 'mregion', 'mcells')
  else
    redis.call('HSET', write.key, 'mregion', write.mregion, 'mcells', write.mcells)
  end
  apply_ops(write.ops, write.gen == current, now_ms)
end
return {'ok'}
