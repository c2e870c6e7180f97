-- Shared by every script that changes the volunteer keyspace; the adapter puts it in front
-- of the script's own text. A script that takes a request id passes its record as
-- KEYS[1] and ARGV[1] "1" when there is a request id, ARGV[2] the request's fingerprint
-- (no newline), ARGV[3] how long to keep the record (s).

-- The first result of this request id, as the reply a repeat gets, or nil. Looked at
-- before anything else, so a repeat returns the first result even when the record has
-- moved on since.
local function earlier()
  if ARGV[1] ~= '1' then return nil end
  local prev = redis.call('GET', KEYS[1])
  if not prev then return nil end
  local nl = string.find(prev, '\n', 1, true)
  return {'dup', string.sub(prev, 1, nl - 1), string.sub(prev, nl + 1)}
end

-- Records `result` as the request's first result: "<fingerprint>\n<result>".
local function remember(result)
  if ARGV[1] == '1' then
    redis.call('SET', KEYS[1], ARGV[2] .. '\n' .. result, 'EX', ARGV[3])
  end
end

-- Tells replicas that volunteer `id` changed. Trimmed to about 100000 entries; a replica
-- whose cursor fell behind the trim reloads everything.
local function log_change(stream, id)
  redis.call('XADD', stream, 'MAXLEN', '~', 100000, '*', 'id', id)
end

