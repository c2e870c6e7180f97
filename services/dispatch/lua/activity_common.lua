-- Shared by the sign-up scripts (after volunteer_common.lua). Their KEYS start
--   1 request  2 activity  3 participations  4 statuses  5 waitlist  6 volunteer
-- A participation is stored as Participation bytes without status and waitlist position;
-- its status lives in the statuses hash (which Lua can read) and its position is its rank
-- in the waitlist. Replies are composed here in protobuf's wire format: concatenated
-- encodings of a message merge, so appending a field to stored bytes sets it.

local CONFIRMED, WAITLISTED, CANCELLED, CHECKED_IN, CHECKED_OUT = 1, 2, 3, 4, 5
local STATUS_NAMES = {'confirmed', 'waitlisted', 'cancelled', 'checked in', 'checked out'}

local function varint(n)
  local out = {}
  repeat
    local b = n % 128
    n = (n - b) / 128
    if n > 0 then b = b + 128 end
    out[#out + 1] = string.char(b)
  until n == 0
  return table.concat(out)
end

-- A non-negative integer field; proto3 leaves zero out.
local function int_field(number, n)
  if n == 0 then return '' end
  return varint(number * 8) .. varint(n)
end

local function bytes_field(number, s)
  return varint(number * 8 + 2) .. varint(#s) .. s
end

-- The status of `vid`'s participation (0 = never signed up).
local function status_of(vid)
  return tonumber(redis.call('HGET', KEYS[4], vid) or '0')
end

-- The SignUpResponse for `vid` as things stand after the script's writes, recorded as the
-- request's first result; the script's reply.
local function respond(vid, promoted)
  local a = redis.call('HMGET', KEYS[2], 'd', 'confirmed', 'waitlisted')
  local status = status_of(vid)
  local position = 0
  if status == WAITLISTED then position = redis.call('ZRANK', KEYS[5], vid) + 1 end
  local participation = redis.call('HGET', KEYS[3], vid) .. int_field(3, status) ..
                        int_field(4, position)
  local activity = a[1] .. int_field(10, tonumber(a[2])) .. int_field(11, tonumber(a[3]))
  local out = int_field(1, status) .. bytes_field(2, participation) .. bytes_field(3, activity)
  if promoted ~= '' then out = out .. bytes_field(4, promoted) end
  remember(out)
  return {'ok', out}
end

