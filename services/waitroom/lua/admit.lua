-- One admission cycle of one event, atomic: reap holds past their deadline,
-- compute free slots, pop at most min(free, batch) sessions in order, mark them
-- admitted, put them in `processing` scored by their deadline, and record each
-- in the outbox for the relay. A repeated cycle id (a retried call) is a no-op.
-- KEYS: config, queue, processing, outbox, admissions-per-10s
-- ARGV: now_ms, cycle_id, session_key_prefix, session_ttl_s, user_key_prefix
local now = tonumber(ARGV[1])
local prefix = ARGV[3]
local cfg = redis.call('HMGET', KEYS[1], 'state', 'opens_at', 'max_concurrent', 'batch_size',
  'checkout_ttl', 'last_cycle', 'sold_out')
if not cfg[1] then return {0, 0, 0, 0, 0} end
if cfg[6] == ARGV[2] then return {0, 0, redis.call('ZCARD', KEYS[2]), redis.call('ZCARD', KEYS[3]), 1} end
redis.call('HSET', KEYS[1], 'last_cycle', ARGV[2])

-- Reap holds whose deadline passed: the slot is freed even if no checkout event came.
local reaped = 0
local due = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, 1000)
for _, token in ipairs(due) do
  redis.call('ZREM', KEYS[3], token)
  local key = prefix .. token
  if redis.call('HGET', key, 'status') == 'admitted' then
    redis.call('HSET', key, 'status', 'expired', 'ended_at', now)
  end
  reaped = reaped + 1
end

local processing = redis.call('ZCARD', KEYS[3])
if cfg[1] ~= 'open' or now < tonumber(cfg[2]) or cfg[7] == '1' then
  return {0, reaped, redis.call('ZCARD', KEYS[2]), processing, 0}
end

local want = math.min(tonumber(cfg[3]) - processing, tonumber(cfg[4]))
local ttl_ms = tonumber(cfg[5]) * 1000
local keep_s = tonumber(cfg[5]) + tonumber(ARGV[4])
local admitted = 0
while admitted < want do
  local popped = redis.call('ZPOPMIN', KEYS[2], want - admitted)
  if #popped == 0 then break end
  for i = 1, #popped, 2 do
    local token = popped[i]
    local key = prefix .. token
    local s = redis.call('HMGET', key, 'status', 'user_id')
    if s[1] == 'queued' then
      local deadline = now + ttl_ms
      redis.call('HSET', key, 'status', 'admitted', 'admitted_at', now, 'expires_at', deadline)
      redis.call('EXPIRE', key, keep_s)
      -- the user's pointer to this live session must outlive it (same hash tag, same slot)
      redis.call('EXPIRE', ARGV[5] .. s[2], keep_s)
      redis.call('ZADD', KEYS[3], deadline, token)
      redis.call('XADD', KEYS[4], '*', 'kind', 'ready', 'session', token, 'user', s[2],
        'at', now, 'expires_at', deadline, 'seq', popped[i + 1])
      admitted = admitted + 1
    elseif not s[1] then
      -- the session expired while waiting (QUEUE_SESSION_TTL): it left the line
      redis.call('XADD', KEYS[4], '*', 'kind', 'left', 'session', token, 'user', '',
        'at', now, 'reason', 'ttl')
    end
  end
end

if admitted > 0 then
  redis.call('HINCRBY', KEYS[1], 'admitted_total', admitted)
  local bucket = math.floor(now / 10000)
  redis.call('HINCRBY', KEYS[5], bucket, admitted)
  for _, b in ipairs(redis.call('HKEYS', KEYS[5])) do
    if tonumber(b) < bucket - 6 then redis.call('HDEL', KEYS[5], b) end
  end
  redis.call('EXPIRE', KEYS[5], 600)
end
return {admitted, reaped, redis.call('ZCARD', KEYS[2]), processing + admitted, 0}
