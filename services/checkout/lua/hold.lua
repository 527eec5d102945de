-- Creates the hold of an admitted person, setting tickets aside; an existing hold is kept.
-- With every ticket held by others, the hold starts with none and waits for tickets that
-- come back (cancelled, expired, or bought in smaller numbers).
-- Called for QUEUE_READY (with a seen key, so a replay changes nothing) and for a valid
-- token presented before its QUEUE_READY arrived.
-- KEYS[1] config    KEYS[2] hold (hash)    KEYS[3] holds (sorted set, by deadline)
-- KEYS[4] outbox    KEYS[5] seen (the message's idempotency key)
-- KEYS[6] waiting   holds with no ticket yet
-- ARGV[1] token     ARGV[2] user_id    ARGV[3] expires_at_ms    ARGV[4] per_hold
-- ARGV[5] now_ms    ARGV[6] seen_ttl_s ARGV[7] session_id       ARGV[8] check_seen ('1'/'0')
-- ARGV[9] the session id's seal with its dot ('' for none): kept, so that the messages the
-- sweep writes later carry the session id the waitroom gave
-- Returns {'created'|'existing', status, quantity, expires_at_ms, order_id},
-- {'duplicate'} for a replayed message, or {'unknown_event'} before the event's settings.
if ARGV[8] == '1' and redis.call('EXISTS', KEYS[5]) == 1 then return {'duplicate'} end
local cfg = redis.call('HMGET', KEYS[1], 'total', 'available', 'sold_out')
if not cfg[1] then return {'unknown_event'} end
if ARGV[8] == '1' then redis.call('SET', KEYS[5], 1, 'EX', ARGV[6]) end
local existing = redis.call('HMGET', KEYS[2], 'status', 'quantity', 'expires_at', 'order_id')
if existing[1] then return {'existing', existing[1], existing[2], existing[3], existing[4] or ''} end

local now, expires = tonumber(ARGV[5]), tonumber(ARGV[3])
local quantity = math.min(tonumber(ARGV[4]), tonumber(cfg[2]))
local status, reason = 'held', ''
if expires <= now then
  status, reason, quantity = 'expired', 'timeout', 0
elseif cfg[3] == '1' then
  status, reason, quantity = 'sold_out', 'sold_out', 0
end
redis.call('HSET', KEYS[2], 'status', status, 'user_id', ARGV[2], 'quantity', quantity,
  'expires_at', expires)
if ARGV[9] and ARGV[9] ~= '' then redis.call('HSET', KEYS[2], 'seal', ARGV[9]) end
redis.call('EXPIRE', KEYS[2], math.floor(math.max(expires - now, 0) / 1000) + 86400)
if status == 'held' then
  redis.call('ZADD', KEYS[3], expires, ARGV[1])
  if quantity > 0 then
    redis.call('HINCRBY', KEYS[1], 'available', -quantity)
  else
    redis.call('ZADD', KEYS[6], now, ARGV[1])  -- waits for tickets that come back
  end
else
  -- nothing to hold: tell the waitroom at once so the slot is freed
  redis.call('XADD', KEYS[4], '*', 'kind', 'expired', 'session', ARGV[7], 'user', ARGV[2],
    'at', now, 'reason', reason)
end
return {'created', status, quantity, expires, ''}
