-- Gives a held hold back; its tickets return to the inventory and go to waiting holds first.
-- Idempotent: a hold no longer held is left as it is.
-- KEYS[1] config    KEYS[2] hold    KEYS[3] holds    KEYS[4] outbox    KEYS[5] waiting
-- KEYS[6] hold_prefix (the hash-tagged `checkout:{E}:hold:`, for the waiting holds)
-- ARGV[1] token     ARGV[2] now_ms  ARGV[3] session_id
-- Returns 'cancelled', the status of a hold no longer held, or 'no_hold'.
local h = redis.call('HMGET', KEYS[2], 'status', 'quantity', 'user_id')
if not h[1] then return 'no_hold' end
if h[1] ~= 'held' then return h[1] end
redis.call('HSET', KEYS[2], 'status', 'cancelled')
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[5], ARGV[1])
redis.call('HINCRBY', KEYS[1], 'available', tonumber(h[2]))
refill(KEYS[1], KEYS[5], tagged_prefix(KEYS[6]), tonumber(ARGV[2]))
redis.call('XADD', KEYS[4], '*', 'kind', 'cancelled', 'session', ARGV[3], 'user', h[3],
  'at', ARGV[2])
return 'cancelled'
