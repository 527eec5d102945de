-- Joins the queue, or returns the user's live session. One round trip, idempotent.
-- KEYS: config, queue, user, outbox, new session
-- ARGV: token, user_id, now_ms, session_ttl_s, lottery_score, session_key_prefix
local cfg = redis.call('HMGET', KEYS[1], 'state', 'opens_at', 'sold_out')
if not cfg[1] then return {'not_found'} end
if cfg[1] ~= 'open' then return {'state', cfg[1]} end
if cfg[3] == '1' then return {'state', 'sold out'} end
local opens_at = tonumber(cfg[2])
local now = tonumber(ARGV[3])

local existing = redis.call('GET', KEYS[3])
if existing then
  -- the session key shares this event's hash tag, so the slot is the same
  local status = redis.call('HGET', ARGV[6] .. existing, 'status')
  if status == 'queued' or status == 'admitted' then
    local rank = redis.call('ZRANK', KEYS[2], existing)
    return {'existing', existing, status, rank or -1, redis.call('ZCARD', KEYS[2]), opens_at}
  end
end

-- Before opening, a secret random score below 1 places people in a lottery
-- revealed at opening; afterwards the join sequence (1, 2, ...) keeps FIFO.
local score
if now < opens_at then
  score = ARGV[5]
else
  score = redis.call('HINCRBY', KEYS[1], 'seq', 1)
end
local ttl = tonumber(ARGV[4])
redis.call('HSET', KEYS[5], 'status', 'queued', 'user_id', ARGV[2], 'joined_at', now, 'seq', score)
redis.call('EXPIRE', KEYS[5], ttl)
redis.call('SET', KEYS[3], ARGV[1], 'EX', ttl)
redis.call('ZADD', KEYS[2], score, ARGV[1])
redis.call('XADD', KEYS[4], '*', 'kind', 'joined', 'session', ARGV[1], 'user', ARGV[2], 'at', now)
local rank = redis.call('ZRANK', KEYS[2], ARGV[1])
return {'new', ARGV[1], 'queued', rank, redis.call('ZCARD', KEYS[2]), opens_at}
