-- Ends the running rebuild: makes its generation current, or drops it (its keys stay
-- until the generation is dropped).
--
-- KEYS: 1 generations
-- ARGV: 1 rebuild id  2 'switch' | 'abandon'
-- Returns {outcome, detail, generations}: 'ok', or 'not_running' with the id of the latest
-- rebuild as detail.
local building = tonumber(gen_get('building', '0'))
local rebuild_id = gen_get('rebuild_id', '')
if building == 0 or rebuild_id ~= ARGV[1] then
  return {'not_running', rebuild_id, gen_state()}
end
if ARGV[2] == 'switch' then
  redis.call('HSET', KEYS[1], 'current', string.format('%d', building),
             'current_formula', gen_get('building_formula', 'v1'))
end
redis.call('HSET', KEYS[1], 'building', '0',
           'revision', string.format('%d', gen_revision() + 1))
redis.call('HDEL', KEYS[1], 'building_formula')
return {'ok', '', gen_state()}
