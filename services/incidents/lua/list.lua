-- One shard's share of a ListIncidents page: walks the shard's time index newest first
-- and keeps the incidents whose meta matches the filters.
--
-- KEYS: 1 time index (records are read by key prefix ARGV[10]; on a cluster they share
--       the index's slot)
-- ARGV: 1 max score (inclusive)  2 min score (inclusive)  3 cursor id ("" = none; skips
--       members at score ARGV[1] whose id >= it)  4 region prefix  5 statuses (",a,b," or "")
--       6 assignee kind ("" = any)  7 assignee id ("" = any)  8 limit  9 scan cap
--       10 record key prefix ("inc:{0b}:i:")
-- Returns {exhausted (0/1), boundary score, boundary id, record bytes...}

local max_score = ARGV[1]
local min_score = ARGV[2]
local cursor_id = ARGV[3]
local prefix = ARGV[4]
local statuses = ARGV[5]
local kind = ARGV[6]
local assignee = ARGV[7]
local limit = tonumber(ARGV[8])
local cap = tonumber(ARGV[9])

local out = {}
local found = 0
local scanned = 0
local last_score, last_id = '', ''
local offset = 0
local batch = 200
while true do
  local page = redis.call('ZREVRANGEBYSCORE', KEYS[1], max_score, min_score, 'WITHSCORES',
                          'LIMIT', offset, batch)
  if #page == 0 then return {1, last_score, last_id, unpack(out)} end
  for i = 1, #page, 2 do
    local id, score = page[i], page[i + 1]
    offset = offset + 1
    local skip = cursor_id ~= '' and score == max_score and id >= cursor_id
    if not skip then
      scanned = scanned + 1
      last_score, last_id = score, id
      local meta = redis.call('HGET', ARGV[10] .. id, 'm')
      if meta then
        -- meta: status|kind|region|assignee id
        local st, k, region, who = string.match(meta, '^([^|]*)|([^|]*)|([^|]*)|(.*)$')
        local ok = true
        if prefix ~= '' and string.sub(region, 1, #prefix) ~= prefix then ok = false end
        if ok and statuses ~= '' and not string.find(statuses, ',' .. st .. ',', 1, true) then
          ok = false
        end
        if ok and kind ~= '' and k ~= kind then ok = false end
        if ok and assignee ~= '' and who ~= assignee then ok = false end
        if ok then
          out[#out + 1] = redis.call('HGET', ARGV[10] .. id, 'd')
          found = found + 1
          if found >= limit then return {0, last_score, last_id, unpack(out)} end
        end
      end
      if scanned >= cap then return {0, last_score, last_id, unpack(out)} end
    end
  end
end
