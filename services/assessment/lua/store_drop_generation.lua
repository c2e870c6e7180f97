-- Deletes keys of a generation that is neither current nor being built. The check and the
-- deletion are one step, so a switch-over cannot slip in between.
--
-- KEYS: 1 generations  then the keys to delete
-- ARGV: 1 the generation
-- Returns {'ok', keys deleted} | {'live'}
local generation = tonumber(ARGV[1])
if tonumber(gen_get('current', '1')) == generation or
   tonumber(gen_get('building', '0')) == generation then
  return {'live'}
end
local deleted = 0
for k = 2, #KEYS do
  deleted = deleted + redis.call('UNLINK', KEYS[k])
end
return {'ok', deleted}
