-- Stores signed checkout tokens on sessions that are still admitted.
-- KEYS: session keys    ARGV: one token per key
for i, key in ipairs(KEYS) do
  if redis.call('HGET', key, 'status') == 'admitted' then
    redis.call('HSET', key, 'token', ARGV[i])
  end
end
return #KEYS
