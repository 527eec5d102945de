-- One step of an admission cycle of one event, atomic: reap holds past their deadline,
-- compute free slots, take at most min(free, batch - already, limit) people from the head of
-- the line in order, mark them admitted, put them in `processing` scored by their deadline,
-- and record each in the outbox for the relay. `limit` keeps one call short, so Redis never
-- stalls on a big batch. A repeated step id (a retried call) is a no-op.
-- KEYS[1] config, KEYS[2] processing, KEYS[3] outbox, KEYS[4] admissions per 10 s bucket,
-- KEYS[5] the event's key prefix (the sessions' and the line's keys)
-- ARGV[1] now_ms, ARGV[2] step id, ARGV[3] session_ttl_s,
-- ARGV[4] people already admitted in this cycle, ARGV[5] most people this step admits
-- Returns {admitted, holds reaped, people waiting, people in processing, 1 if the step id
-- was seen before else 0}; all 0 for an unknown event.
-- Admission times never run backwards: a step is dated no earlier than the event's last
-- admission (`admitted_until`), even when its processor's clock is behind another's.
local prefix = event_prefix(KEYS[5])
local session_ttl = tonumber(ARGV[3])
local cfg = redis.call('HMGET', KEYS[1], 'state', 'opens_at', 'max_concurrent', 'batch_size',
  'checkout_ttl', 'last_cycle', 'sold_out', 'admitted_until')
if not cfg[1] then return {0, 0, 0, 0, 0} end
local now = math.max(tonumber(ARGV[1]), tonumber(cfg[8] or 0))
local function waiting() return tonumber(redis.call('HGET', KEYS[1], 'waiting') or 0) end
if cfg[6] == ARGV[2] then return {0, 0, waiting(), redis.call('ZCARD', KEYS[2]), 1} end
redis.call('HSET', KEYS[1], 'last_cycle', ARGV[2])

-- Reap holds whose deadline passed: the slot is freed even if no checkout event came.
local reaped = 0
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 1000)
for _, token in ipairs(due) do
  redis.call('ZREM', KEYS[2], token)
  local key = prefix .. 'session:' .. token
  if redis.call('HGET', key, 'status') == 'admitted' then
    redis.call('HSET', key, 'status', 'expired', 'ended_at', now)
  end
  reaped = reaped + 1
end

local processing = redis.call('ZCARD', KEYS[2])
if cfg[1] ~= 'open' or now < tonumber(cfg[2]) or cfg[7] == '1' then
  return {0, reaped, waiting(), processing, 0}
end

local want = math.min(tonumber(cfg[3]) - processing, tonumber(cfg[4]) - tonumber(ARGV[4]),
  tonumber(ARGV[5]))
local ttl_ms = tonumber(cfg[5]) * 1000
local keep_s = tonumber(cfg[5]) + session_ttl
local now_s = math.floor(now / 1000)
local admitted = 0
local taken, last_taken = 0, nil -- places taken from the line in this step, the last of them

local function admit(token, place, user)
  local deadline = now + ttl_ms
  local key = prefix .. 'session:' .. token
  redis.call('HSET', key, 'status', 'admitted', 'user_id', user, 'admitted_at', now,
    'expires_at', deadline, 'seq', join_sequence(place), 'place', string.format('%d', place))
  redis.call('EXPIRE', key, keep_s)
  redis.call('ZADD', KEYS[2], deadline, token)
  redis.call('XADD', KEYS[3], '*', 'kind', 'ready', 'session', token, 'user', user,
    'at', now, 'expires_at', deadline, 'seq', join_sequence(place),
    'place', string.format('%d', place))
  admitted = admitted + 1
end

-- takes people from bucket b in order; false if the bucket held no one. What unqueue does
-- for one person is done here once for everyone taken from the bucket: their places go in one
-- HDEL, and the bucket's and the line's counts change once, not once a person.
local function take(b)
  local line = prefix .. 'line:' .. b
  local flat = redis.call('HGETALL', line)
  local head = {}
  for i = 1, #flat, 2 do head[#head + 1] = {tonumber(flat[i]), flat[i + 1]} end
  table.sort(head, function(x, y) return x[1] < y[1] end)
  local places = {}
  for _, entry in ipairs(head) do
    if admitted >= want then break end
    local place, token = entry[1], entry[2]
    local wait = prefix .. 'wait:' .. token_bucket(token)
    local value = redis.call('HGET', wait, token)
    places[#places + 1] = string.format('%d', place)
    redis.call('HDEL', wait, token)
    if value then
      local _, seen, user = parse_record(value)
      if now_s - seen <= session_ttl then
        admit(token, place, user)
      else
        -- nobody asked for this place within QUEUE_SESSION_TTL: it left the line
        redis.call('XADD', KEYS[3], '*', 'kind', 'left', 'session', token, 'user', user,
          'at', now, 'reason', 'ttl', 'place', string.format('%d', place))
      end
    end
  end
  if #places > 0 then
    taken, last_taken = taken + #places, places[#places]
    redis.call('HDEL', line, unpack(places))
    count(prefix, b, -#places)
    redis.call('HINCRBY', KEYS[1], 'waiting', -#places)
  end
  return #head > 0
end

while admitted < want and waiting() > 0 do
  local block = head_block(prefix)
  if not block then
    -- counted as waiting, but no bucket holds anyone: mend the count rather than loop
    redis.call('HSET', KEYS[1], 'waiting', 0)
    break
  end
  local found = false
  local buckets, counts = block_counts(prefix, block)
  for i, n in ipairs(counts) do
    if admitted >= want then break end
    if n and tonumber(n) > 0 then
      if take(buckets[i]) then
        found = true
      else
        -- counted, but the bucket holds no one: mend the counts rather than loop forever
        count(prefix, buckets[i], -tonumber(n))
        redis.call('HINCRBY', KEYS[1], 'waiting', -tonumber(n))
      end
    end
  end
  if not found and admitted < want then
    local stray = tonumber(redis.call('HGET', prefix .. 'blocks', block) or 0)
    if stray ~= 0 then add(prefix .. 'blocks', block, -stray) end
  end
end

if taken > 0 then
  -- for watchers (pulse.lua): places are taken in order, so those up to `head` are gone
  redis.call('HSET', KEYS[1], 'head', last_taken)
  redis.call('HINCRBY', KEYS[1], 'popped', taken)
end
if admitted > 0 then
  redis.call('HINCRBY', KEYS[1], 'admitted_total', admitted)
  redis.call('HSET', KEYS[1], 'admitted_until', now)
  -- the wait estimate's rate: admissions per 10 s bucket over the last minute (repository.py)
  local bucket = math.floor(now / 10000)
  redis.call('HINCRBY', KEYS[4], bucket, admitted)
  for _, b in ipairs(redis.call('HKEYS', KEYS[4])) do
    if tonumber(b) < bucket - 6 then redis.call('HDEL', KEYS[4], b) end
  end
  redis.call('EXPIRE', KEYS[4], 600)
end
return {admitted, reaped, waiting(), processing + admitted, 0}
