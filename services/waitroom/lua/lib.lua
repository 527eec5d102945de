-- Shared by every waitroom script (prepended when the script is loaded). The config hash's
-- field names and units are those of event_settings.py. A script builds the keys of an event
-- only from the prefix it is given in KEYS, `waitroom:{<event>}:`, so they share the event's slot.
-- The line is stored lean (DESIGN.md invites it): a waiting person is one field in a small
-- listpack hash of their position bucket (`line:{b}`: place -> token), one in their token
-- bucket (`wait:{tb}`: token -> "place|last_seen_s|user"), and one in their user bucket
-- (`users:{ub}`: user -> token). `counts` (people per bucket) and `blocks` (people per 256
-- buckets) make a position and the head of the line a few reads, whatever the length.
-- Places before the opening are a random lottery number below LOTTERY; afterwards
-- LOTTERY + the join sequence.
local LOTTERY = 1099511627776 -- 2^40
local LOTTERY_BUCKETS = 16384 -- a lottery bucket spans 2^26 places
local PER_BUCKET = 64 -- after opening, 64 consecutive joiners share a bucket
local BLOCK = 256 -- buckets per block
local B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

local function event_prefix(prefix)
  if not string.match(prefix, '^[^{]*{[^}]+}:$') then
    error('not an event key prefix with a hash tag: ' .. prefix)
  end
  return prefix
end

local function bucket_of(place)
  if place < LOTTERY then return math.floor(place / 67108864) end
  return LOTTERY_BUCKETS + math.floor((place - LOTTERY) / PER_BUCKET)
end

-- the first 14 bits of a (random, base64url) token: 16384 buckets, as repository.py computes
local function token_bucket(token)
  local v = 0
  for i = 1, 3 do v = v * 64 + (string.find(B64, string.sub(token, i, i), 1, true) or 1) - 1 end
  return math.floor(v / 16)
end

local function join_sequence(place)
  if place < LOTTERY then return tostring(place / LOTTERY) end
  return string.format('%d', place - LOTTERY)
end

local function add(key, field, delta)
  if redis.call('HINCRBY', key, field, delta) == 0 then redis.call('HDEL', key, field) end
end

local function count(prefix, bucket, delta)
  add(prefix .. 'counts', bucket, delta)
  add(prefix .. 'blocks', math.floor(bucket / BLOCK), delta)
end

-- people waiting in buckets below `bucket`: whole blocks first, then buckets of its block
local function people_before(prefix, bucket)
  local block, sum = math.floor(bucket / BLOCK), 0
  local blocks = redis.call('HGETALL', prefix .. 'blocks')
  for i = 1, #blocks, 2 do
    if tonumber(blocks[i]) < block then sum = sum + tonumber(blocks[i + 1]) end
  end
  local fields = {}
  for b = block * BLOCK, bucket - 1 do fields[#fields + 1] = b end
  if #fields > 0 then
    for _, n in ipairs(redis.call('HMGET', prefix .. 'counts', unpack(fields))) do
      if n then sum = sum + tonumber(n) end
    end
  end
  return sum
end

-- the lowest block that holds someone, or nil
local function head_block(prefix)
  local first
  local blocks = redis.call('HGETALL', prefix .. 'blocks')
  for i = 1, #blocks, 2 do
    local block = tonumber(blocks[i])
    if tonumber(blocks[i + 1]) > 0 and (not first or block < first) then first = block end
  end
  return first
end

-- the buckets of a block, in order, and how many wait in each (false for none)
local function block_counts(prefix, block)
  local buckets = {}
  for b = block * BLOCK, block * BLOCK + BLOCK - 1 do buckets[#buckets + 1] = b end
  return buckets, redis.call('HMGET', prefix .. 'counts', unpack(buckets))
end

local function parse_record(value)
  local place, seen, user = string.match(value, '^(%d+)|(%d+)|(.*)$')
  return tonumber(place), tonumber(seen), user
end

local function record_of(place, seen_s, user)
  return string.format('%d|%d|%s', place, seen_s, user)
end

-- 0-based place in line: everyone in earlier buckets plus those ahead in the same bucket
local function rank_of(prefix, place)
  local b = bucket_of(place)
  local rank = people_before(prefix, b)
  for _, field in ipairs(redis.call('HKEYS', prefix .. 'line:' .. b)) do
    if tonumber(field) < place then rank = rank + 1 end
  end
  return rank
end

-- a batch larger than the room is the room: batch_size is lowered to max_concurrent
local function clamp_batch(config)
  local c = redis.call('HMGET', config, 'max_concurrent', 'batch_size')
  if tonumber(c[2]) > tonumber(c[1]) then redis.call('HSET', config, 'batch_size', c[1]) end
end

-- takes a waiting person out of the line structures (not their session)
local function unqueue(prefix, token, place)
  local b = bucket_of(place)
  redis.call('HDEL', prefix .. 'line:' .. b, string.format('%d', place))
  redis.call('HDEL', prefix .. 'wait:' .. token_bucket(token), token)
  count(prefix, b, -1)
  redis.call('HINCRBY', prefix .. 'config', 'waiting', -1)
end

-- admissions in the seconds [now_s - 60, now_s] (`minute`: second -> admissions); older
-- seconds are dropped
local function admitted_in_last_minute(minute, now_s)
  local sum, fields = 0, redis.call('HGETALL', minute)
  for i = 1, #fields, 2 do
    if tonumber(fields[i]) < now_s - 60 then
      redis.call('HDEL', minute, fields[i])
    else
      sum = sum + tonumber(fields[i + 1])
    end
  end
  return sum
end

-- the left feed's entries (leave.lua) after seq `after`, at most `count`, flat as {seq, place,
-- token, ...}; none when `left_seq` (the config's) says there are none
local function left_since(feed, left_seq, after, count)
  local left = {}
  if tonumber(left_seq or 0) <= tonumber(after) then return left end
  for _, entry in ipairs(redis.call('XRANGE', feed, '(0-' .. after, '+', 'COUNT', count)) do
    local fields = entry[2]
    left[#left + 1] = string.match(entry[1], '^0%-(%d+)$')
    left[#left + 1] = fields[4]
    left[#left + 1] = fields[2]
  end
  return left
end
