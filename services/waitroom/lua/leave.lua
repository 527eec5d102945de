-- Leaves the line. Only a waiting session can leave; others report their status.
-- KEYS: session, wait bucket, config, outbox    ARGV: token, now_ms, session_ttl_s, key prefix
local status = redis.call('HGET', KEYS[1], 'status')
if status then return status end
local value = redis.call('HGET', KEYS[2], ARGV[1])
if not value then return 'not_found' end
local place, seen, user = parse_record(value)
local now = tonumber(ARGV[2])
if math.floor(now / 1000) - seen > tonumber(ARGV[3]) then return 'not_found' end
if redis.call('HGET', KEYS[3], 'sold_out') == '1' then return 'sold_out' end
unqueue(ARGV[4], ARGV[1], place)
redis.call('HSET', KEYS[1], 'status', 'left', 'user_id', user, 'ended_at', now)
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('XADD', KEYS[4], '*', 'kind', 'left', 'session', ARGV[1], 'user', user,
  'at', now, 'reason', 'left')
return 'left'
