-- Expires up to `limit` holds past their deadline; their tickets go to waiting holds first.
-- KEYS[1] config    KEYS[2] holds (by deadline)    KEYS[3] outbox    KEYS[4] waiting
-- KEYS[5] hold_prefix (the hash-tagged `checkout:{E}:hold:`)
-- ARGV[1] now_ms    ARGV[2] session_prefix (`E~`)    ARGV[3] limit
-- Returns the number of holds expired.
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local expired = 0
local prefix = tagged_prefix(KEYS[5])
for _, token in ipairs(due) do
  redis.call('ZREM', KEYS[2], token)
  redis.call('ZREM', KEYS[4], token)
  local key = prefix .. token
  local h = redis.call('HMGET', key, 'status', 'quantity', 'user_id', 'seal')
  if h[1] == 'held' then
    redis.call('HSET', key, 'status', 'expired')
    redis.call('HINCRBY', KEYS[1], 'available', tonumber(h[2]))
    redis.call('XADD', KEYS[3], '*', 'kind', 'expired', 'session', ARGV[2] .. token .. (h[4] or ''),
      'user', h[3], 'at', ARGV[1], 'reason', 'timeout')
    expired = expired + 1
  end
end
if expired > 0 then refill(KEYS[1], KEYS[4], prefix, tonumber(ARGV[1])) end
return expired
