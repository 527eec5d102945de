-- A session's status in one round trip; polling keeps a waiting session (and the user's
-- pointer to it) alive, so an abandoned one leaves the line after the TTL.
-- KEYS: session, queue, config, admits    ARGV: token, ttl_s, user_key_prefix
local s = redis.call('HMGET', KEYS[1], 'status', 'user_id', 'joined_at', 'admitted_at',
  'expires_at', 'token')
if not s[1] then return false end
if s[1] == 'queued' then
  redis.call('EXPIRE', KEYS[1], ARGV[2])
  redis.call('EXPIRE', ARGV[3] .. s[2], ARGV[2])
end
local cfg = redis.call('HMGET', KEYS[3], 'opens_at', 'batch_size')
return {s, redis.call('ZRANK', KEYS[2], ARGV[1]) or -1, redis.call('ZCARD', KEYS[2]), cfg,
  redis.call('HGETALL', KEYS[4])}
