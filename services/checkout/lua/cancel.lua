-- Gives a held hold back; its tickets return to the inventory. Idempotent.
-- KEYS: config, hold, holds, outbox, waiting    ARGV: token, now_ms, session_id, hold_prefix
local h = redis.call('HMGET', KEYS[2], 'status', 'quantity', 'user_id')
if not h[1] then return 'no_hold' end
if h[1] ~= 'held' then return h[1] end
redis.call('HSET', KEYS[2], 'status', 'cancelled', 'ended_at', ARGV[2])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[5], ARGV[1])
redis.call('HINCRBY', KEYS[1], 'available', tonumber(h[2]))
refill(KEYS[1], KEYS[5], ARGV[4], tonumber(ARGV[2]))
redis.call('XADD', KEYS[4], '*', 'kind', 'cancelled', 'session', ARGV[3], 'user', h[3],
  'at', ARGV[2])
return 'cancelled'
