-- Records a resident's response: at most one per respondent, counted toward the survey's
-- results and, when it has a satisfaction value, toward the survey-satisfaction tallies,
-- all in one step.
--
-- KEYS: 1 survey  2 respondents  3 answers  4 counts
--       then ARGV[6] text lists, then ARGV[7] tallies
-- ARGV: 1 respondent id  2 respondent record ("<request id>\n<fingerprint>\n<receipt>")
--       3 answers bytes  4 satisfaction x 1000, or "" when the response has none
--       5 count fields (c)  6 texts (t)  7 tallies (k)
--       8 tally field of responses  9 tally field of the satisfaction sum
--       10 texts kept per question
--       then c count fields to add 1 to, then t texts (one per text list)
-- Returns {"ok"} | {"no_survey"} | {"responded", the respondent's record}

if redis.call('EXISTS', KEYS[1]) == 0 then return {'no_survey'} end
local prev = redis.call('HGET', KEYS[2], ARGV[1])
if prev then return {'responded', prev} end

local c = tonumber(ARGV[5])
local t = tonumber(ARGV[6])
local k = tonumber(ARGV[7])
local keep = tonumber(ARGV[10])

redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
redis.call('HINCRBY', KEYS[1], 'n', 1)
for i = 1, c do
  redis.call('HINCRBY', KEYS[4], ARGV[10 + i], 1)
end
for i = 1, t do
  local list = KEYS[4 + i]
  redis.call('LPUSH', list, ARGV[10 + c + i])
  redis.call('LTRIM', list, 0, keep - 1)
end
if ARGV[4] ~= '' then
  redis.call('HINCRBY', KEYS[1], 'sat_n', 1)
  redis.call('HINCRBY', KEYS[1], 'sat_m', ARGV[4])
  for i = 1, k do
    local tally = KEYS[4 + t + i]
    redis.call('HINCRBY', tally, ARGV[8], 1)
    redis.call('HINCRBY', tally, ARGV[9], ARGV[4])
  end
end
return {'ok'}
