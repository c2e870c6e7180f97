-- Starts a rebuild into a fresh generation, unless one runs.
--
-- KEYS: 1 generations  2 the rebuild's record  3 the latest rebuild's id
-- ARGV: 1 rebuild id  2 generations revision expected  3 the new generation
--       4 its formula version  5 the rebuild's record
-- Returns {outcome, detail, generations} with outcome
--   'ok'       started
--   'same'     this rebuild is (or was) the latest: nothing changed
--   'running'  another runs; detail is its id
--   'stale'    the generations changed since the adapter read them (it chose the new
--              generation and the record from what it read)
local rebuild_id = gen_get('rebuild_id', '')
if rebuild_id == ARGV[1] then return {'same', '', gen_state()} end
if tonumber(gen_get('building', '0')) ~= 0 then
  return {'running', rebuild_id, gen_state()}
end
local revision = gen_revision()
if revision ~= tonumber(ARGV[2]) then return {'stale', '', gen_state()} end

redis.call('HSET', KEYS[1],
           'revision', string.format('%d', revision + 1),
           'current', gen_get('current', '1'),
           'current_formula', gen_get('current_formula', 'v1'),
           'building', ARGV[3],
           'building_formula', ARGV[4],
           'rebuild_id', ARGV[1],
           'next', ARGV[3])
redis.call('SET', KEYS[2], ARGV[5])
redis.call('SET', KEYS[3], ARGV[1])
return {'ok', '', gen_state()}
