-- EVENT_SOLD_OUT: stop admitting and tell up to `limit` queued people; call until it returns 0.
-- KEYS: config, queue    ARGV: now_ms, session_key_prefix, limit
redis.call('HSET', KEYS[1], 'sold_out', 1)
local popped = redis.call('ZPOPMIN', KEYS[2], tonumber(ARGV[3]))
for i = 1, #popped, 2 do
  local key = ARGV[2] .. popped[i]
  if redis.call('HGET', key, 'status') == 'queued' then
    redis.call('HSET', key, 'status', 'sold_out', 'ended_at', ARGV[1])
  end
end
return redis.call('ZCARD', KEYS[2])
