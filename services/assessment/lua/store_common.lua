-- Shared by the scripts that change assessment's generations and figures; the adapter puts
-- it in front of the script's own text. KEYS[1] is always the generations hash; the
-- scripts that fold figures pass the dirty-subject marks as KEYS[2] and the subjects'
-- change counts as KEYS[3].

-- A field of the generations hash, or `default` when it was never written.
local function gen_get(field, default)
  local v = redis.call('HGET', KEYS[1], field)
  if not v then return default end
  return v
end

local function gen_revision()
  return tonumber(gen_get('revision', '0'))
end

-- The generations hash as a flat field/value array, for the adapter to read.
local function gen_state()
  return redis.call('HGETALL', KEYS[1])
end

-- Adds `delta` to a counter or reference count. A field that comes back to zero is
-- removed, and with it a hash that has nothing left: a generation's keys then depend only
-- on what counts in it, not on the order things were counted in.
local function add_clean(key, field, delta)
  if redis.call('HINCRBY', key, field, delta) == 0 then
    redis.call('HDEL', key, field)
  end
end

-- One write's operations, from ARGV[i] on; returns them and the index after them. Keys are
-- given as indexes into KEYS, since several operations share one.
--   n_incr, then (key, field, delta) per counter or reference count to add to
--   n_zadd, then (key, score, member) per explain-index entry to add
--   n_zrem, then (key, member) per explain-index entry to remove
--   n_dirty, then the "<kind>:<subject>" of every subject the write changes
local function read_ops(i)
  local ops = {incr = {}, zadd = {}, zrem = {}, dirty = {}}
  local n = tonumber(ARGV[i]); i = i + 1
  for k = 1, n do
    ops.incr[k] = {KEYS[tonumber(ARGV[i])], ARGV[i + 1], ARGV[i + 2]}
    i = i + 3
  end
  n = tonumber(ARGV[i]); i = i + 1
  for k = 1, n do
    ops.zadd[k] = {KEYS[tonumber(ARGV[i])], ARGV[i + 1], ARGV[i + 2]}
    i = i + 3
  end
  n = tonumber(ARGV[i]); i = i + 1
  for k = 1, n do
    ops.zrem[k] = {KEYS[tonumber(ARGV[i])], ARGV[i + 1]}
    i = i + 2
  end
  n = tonumber(ARGV[i]); i = i + 1
  for k = 1, n do
    ops.dirty[k] = ARGV[i]
    i = i + 1
  end
  return ops, i
end

-- Applies `ops`. `mark`: the write is to the current generation, so its subjects become
-- due a score event; the first mark is kept, so the longest-waiting subject goes first.
local function apply_ops(ops, mark, now_ms)
  for _, op in ipairs(ops.incr) do add_clean(op[1], op[2], op[3]) end
  for _, op in ipairs(ops.zadd) do redis.call('ZADD', op[1], op[2], op[3]) end
  for _, op in ipairs(ops.zrem) do redis.call('ZREM', op[1], op[2]) end
  if mark then
    for _, member in ipairs(ops.dirty) do
      redis.call('ZADD', KEYS[2], 'NX', now_ms, member)
      redis.call('HINCRBY', KEYS[3], member, 1)
    end
  end
end
