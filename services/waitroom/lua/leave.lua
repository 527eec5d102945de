-- Leaves the queue. Only a queued session can leave; others report their status.
-- KEYS: session, queue, outbox    ARGV: token, now_ms
local s = redis.call('HMGET', KEYS[1], 'status', 'user_id')
if not s[1] then return 'not_found' end
if s[1] ~= 'queued' then return s[1] end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[1], 'status', 'left', 'ended_at', ARGV[2])
redis.call('XADD', KEYS[3], '*', 'kind', 'left', 'session', ARGV[1], 'user', s[2],
  'at', ARGV[2], 'reason', 'left')
return 'left'
