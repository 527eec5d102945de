-- Completes the purchase of a held hold; a retry with the same payment reference returns the
-- same order; a hold completes at most one purchase. Selling the last ticket queues
-- EVENT_SOLD_OUT and ends the holds still waiting; otherwise unbought tickets go to them.
-- KEYS[1] config    KEYS[2] hold    KEYS[3] holds    KEYS[4] outbox    KEYS[5] waiting
-- ARGV[1] token     ARGV[2] quantity    ARGV[3] payment_reference    ARGV[4] new_order_id
-- ARGV[5] now_ms    ARGV[6] session_id
-- KEYS[6] hold_prefix (the hash-tagged `checkout:{E}:hold:`)
-- ARGV[7] session_prefix (`E~`, for the session ids of waiting holds)
-- Returns {'ok', order_id, quantity}, or a refusal: {'used'}, {'too_many', held},
-- {'no_hold'}, or the status of a hold no longer held ({'expired'}, {'cancelled'}, ...).
local h = redis.call('HMGET', KEYS[2], 'status', 'quantity', 'expires_at', 'order_id',
  'payment_reference', 'purchased', 'user_id')
if not h[1] then return {'no_hold'} end
if h[1] == 'completed' then
  if h[5] == ARGV[3] then return {'ok', h[4], h[6]} end
  return {'used'}
end
if h[1] ~= 'held' then return {h[1]} end
local now = tonumber(ARGV[5])
if tonumber(h[3]) <= now then return {'expired'} end
local quantity, held = tonumber(ARGV[2]), tonumber(h[2])
if quantity > held then return {'too_many', held} end  -- a hold of 0 is still waiting

redis.call('HSET', KEYS[2], 'status', 'completed', 'order_id', ARGV[4], 'payment_reference',
  ARGV[3], 'purchased', quantity)
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HINCRBY', KEYS[1], 'available', held - quantity)
local sold = redis.call('HINCRBY', KEYS[1], 'sold', quantity)
redis.call('XADD', KEYS[4], '*', 'kind', 'completed', 'session', ARGV[6], 'user', h[7],
  'at', now, 'order_id', ARGV[4], 'quantity', quantity, 'payment_reference', ARGV[3])
local cfg = redis.call('HMGET', KEYS[1], 'total', 'sold_out')
if sold >= tonumber(cfg[1]) and cfg[2] ~= '1' then
  redis.call('HSET', KEYS[1], 'sold_out', 1)
  redis.call('XADD', KEYS[4], '*', 'kind', 'sold_out', 'at', now, 'tickets', cfg[1])
  close_waiting(KEYS[5], KEYS[3], KEYS[4], tagged_prefix(KEYS[6]), ARGV[7], now)
else
  refill(KEYS[1], KEYS[5], tagged_prefix(KEYS[6]), now)
end
return {'ok', ARGV[4], quantity}
