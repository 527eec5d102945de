-- Applies one event to an event's statistics. Every change is a set membership or a
-- first-write, so a replayed message counts once and the figures do not depend on order.
-- KEYS: 1 config, 2 session, 3 user's sessions, 4 joined, 5 admitted, 6 completed,
--       7 expired, 8 cancelled, 9 left, 10 waits, 11 checkout_times, 12 admitted_times
-- ARGV: kind, session_id, user_id, at_ms, value (quantity / version), reason, tickets
local kind, sid, at = ARGV[1], ARGV[2], tonumber(ARGV[4])

local function outcome(set, name)
  redis.call('SADD', set, sid)
  redis.call('HSET', KEYS[2], 'outcome', name)
  redis.call('HSETNX', KEYS[2], 'ended_at', at)
end

-- Timings need two events that may arrive in either order: whichever comes second records it.
local function timings()
  local s = redis.call('HMGET', KEYS[2], 'joined_at', 'admitted_at', 'ended_at')
  if s[1] and s[2] then redis.call('ZADD', KEYS[10], tonumber(s[2]) - tonumber(s[1]), sid) end
  if s[2] and s[3] then redis.call('ZADD', KEYS[11], tonumber(s[3]) - tonumber(s[2]), sid) end
end

if kind == 'updated' then
  local version = tonumber(ARGV[5])
  if version > tonumber(redis.call('HGET', KEYS[1], 'version') or '-1') then
    redis.call('HSET', KEYS[1], 'version', version, 'tickets_total', ARGV[7])
  end
  return 1
elseif kind == 'sold_out' then
  redis.call('HSET', KEYS[1], 'sold_out', 1)
  return 1
end

if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[2], 'user_id', ARGV[3])
  redis.call('SADD', KEYS[3], sid)
end
if kind == 'joined' then
  redis.call('SADD', KEYS[4], sid)
  redis.call('HSETNX', KEYS[2], 'joined_at', at)
  redis.call('HSETNX', KEYS[2], 'outcome', 'queued')
elseif kind == 'ready' then
  redis.call('SADD', KEYS[5], sid)
  redis.call('HSETNX', KEYS[2], 'admitted_at', at)
  redis.call('ZADD', KEYS[12], at, sid)
  local current = redis.call('HGET', KEYS[2], 'outcome')
  if not current or current == 'queued' then redis.call('HSET', KEYS[2], 'outcome', 'admitted') end
elseif kind == 'completed' then
  outcome(KEYS[6], 'completed')
  if redis.call('HSETNX', KEYS[2], 'tickets', ARGV[5]) == 1 then
    redis.call('HINCRBY', KEYS[1], 'tickets_sold', tonumber(ARGV[5]))
  end
elseif kind == 'expired' then
  outcome(KEYS[7], ARGV[6] == 'sold_out' and 'sold_out' or 'expired')
elseif kind == 'cancelled' then
  outcome(KEYS[8], 'cancelled')
elseif kind == 'left' then
  outcome(KEYS[9], 'left')
end
timings()
return 1
