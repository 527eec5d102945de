-- Joins the line, or returns the user's live session. One round trip, idempotent.
-- KEYS[1] config, KEYS[2] the user's users bucket, KEYS[3] outbox,
-- KEYS[4] wait bucket of the new token, KEYS[5] the event's key prefix (its other keys)
-- ARGV[1] new token, ARGV[2] user_id, ARGV[3] now_ms, ARGV[4] session_ttl_s,
-- ARGV[5] lottery place (used before the opening)
-- Returns {'new' | 'existing', token, status, 0-based rank (-1: not shown), people waiting,
-- opens_at_ms, place in line ('' when not known)}, or {'refused', 'not_found' | 'paused' |
-- 'closed' | 'sold_out'}. The place goes, sealed, into the session id (service.py).
local cfg = redis.call('HMGET', KEYS[1], 'state', 'opens_at', 'sold_out', 'waiting')
if not cfg[1] then return {'refused', 'not_found'} end
if cfg[1] ~= 'open' then return {'refused', cfg[1]} end
if cfg[3] == '1' then return {'refused', 'sold_out'} end
local opens_at = tonumber(cfg[2])
local now = tonumber(ARGV[3])
local now_s = math.floor(now / 1000)
local ttl = tonumber(ARGV[4])
local prefix = event_prefix(KEYS[5])

local existing = redis.call('HGET', KEYS[2], ARGV[2])
if existing then
  -- keys built here carry the event's hash tag, so the slot is the same
  local session = redis.call('HMGET', prefix .. 'session:' .. existing, 'status', 'place')
  if session[1] == 'admitted' then
    return {'existing', existing, 'admitted', -1, tonumber(cfg[4] or 0), opens_at, session[2] or ''}
  end
  local wait_key = prefix .. 'wait:' .. token_bucket(existing)
  local value = redis.call('HGET', wait_key, existing)
  if value then
    local place, seen = parse_record(value)
    if now_s - seen <= ttl then
      redis.call('HSET', wait_key, existing, record_of(place, now_s, ARGV[2]))
      return {'existing', existing, 'queued', rank_of(prefix, place), tonumber(cfg[4] or 0), opens_at,
        string.format('%d', place)}
    end
  end
end

-- Before opening, a secret random place below LOTTERY: the order is drawn, not raced.
-- Afterwards LOTTERY + the join sequence keeps first come, first served.
local place
if now < opens_at then
  place = tonumber(ARGV[5])
  while redis.call('HEXISTS', prefix .. 'line:' .. bucket_of(place), string.format('%d', place)) == 1 do
    place = (place + 1) % LOTTERY
  end
else
  place = LOTTERY + redis.call('HINCRBY', KEYS[1], 'seq', 1)
end
local b = bucket_of(place)
redis.call('HSET', prefix .. 'line:' .. b, string.format('%d', place), ARGV[1])
redis.call('HSET', KEYS[4], ARGV[1], record_of(place, now_s, ARGV[2]))
redis.call('HSET', KEYS[2], ARGV[2], ARGV[1])
count(prefix, b, 1)
local waiting = redis.call('HINCRBY', KEYS[1], 'waiting', 1)
redis.call('XADD', KEYS[3], '*', 'kind', 'joined', 'session', ARGV[1], 'user', ARGV[2], 'at', now,
  'place', string.format('%d', place))
-- after the opening a newcomer is last; before it, places are secret
local rank = -1
if place >= LOTTERY then rank = waiting - 1 end
return {'new', ARGV[1], 'queued', rank, waiting, opens_at, string.format('%d', place)}
