-- Applies a batch of one event's messages to its statistics. Every change is a set membership
-- or a first-write, so a replayed message counts once and the figures do not depend on order
-- (within a batch or across batches).
-- Every key is stats:{E}:..., of the one event the batch is for; none is built here.
-- KEYS[1] config (version, tickets_total, tickets_sold, sold_out)
-- KEYS[2..7] the sessions that joined, were admitted, completed, expired, cancelled, left (sets)
-- KEYS[8] waits, KEYS[9] checkout_times (ms, by session), KEYS[10] admitted_times (by time)
-- then two per message: its session (hash), its user's sessions (set)
-- ARGV: seven per message: kind (models.ChangeKind), session_id, user_id, at_ms,
--       value (tickets bought, or the settings' version), reason, tickets (the total)
-- Returns the number of messages applied.
local EVENT_KEYS, FIELDS = 10, 7

local function ended(set, name, sid, session, at)
  redis.call('SADD', set, sid)
  redis.call('HSET', session, 'outcome', name)
  redis.call('HSETNX', session, 'ended_at', at)
end

local function apply(kind, sid, user, at, value, reason, tickets, session, sessions)
  if kind == 'updated' then
    if tonumber(value) > tonumber(redis.call('HGET', KEYS[1], 'version') or '-1') then
      redis.call('HSET', KEYS[1], 'version', value, 'tickets_total', tickets)
    end
    return
  elseif kind == 'sold_out' then
    redis.call('HSET', KEYS[1], 'sold_out', 1)
    return
  end

  -- A join of a session nothing was recorded of yet (every message of a session writes its
  -- hash), as almost every join is: what the general path below would write, in fewer calls.
  if kind == 'joined' and user ~= '' and redis.call('EXISTS', session) == 0 then
    redis.call('HSET', session, 'user_id', user, 'joined_at', at, 'outcome', 'queued')
    redis.call('SADD', sessions, sid)
    redis.call('SADD', KEYS[2], sid)
    return
  end
  if user ~= '' then
    redis.call('HSET', session, 'user_id', user)
    redis.call('SADD', sessions, sid)
  end
  if kind == 'joined' then
    redis.call('SADD', KEYS[2], sid)
    redis.call('HSETNX', session, 'joined_at', at)
    redis.call('HSETNX', session, 'outcome', 'queued')
  elseif kind == 'ready' then
    redis.call('SADD', KEYS[3], sid)
    redis.call('HSETNX', session, 'admitted_at', at)
    redis.call('ZADD', KEYS[10], at, sid)
    local current = redis.call('HGET', session, 'outcome')
    if not current or current == 'queued' then redis.call('HSET', session, 'outcome', 'admitted') end
  elseif kind == 'completed' then
    ended(KEYS[4], 'completed', sid, session, at)
    if redis.call('HSETNX', session, 'tickets', value) == 1 then
      redis.call('HINCRBY', KEYS[1], 'tickets_sold', tonumber(value))
    end
  elseif kind == 'expired' then
    ended(KEYS[5], reason == 'sold_out' and 'sold_out' or 'expired', sid, session, at)
  elseif kind == 'cancelled' then
    ended(KEYS[6], 'cancelled', sid, session, at)
  elseif kind == 'left' then
    ended(KEYS[7], 'left', sid, session, at)
  end

  -- Timings need two events that may arrive in either order: whichever comes second records it.
  local s = redis.call('HMGET', session, 'joined_at', 'admitted_at', 'ended_at')
  if s[1] and s[2] then redis.call('ZADD', KEYS[8], tonumber(s[2]) - tonumber(s[1]), sid) end
  if s[2] and s[3] then redis.call('ZADD', KEYS[9], tonumber(s[3]) - tonumber(s[2]), sid) end
end

local count = #ARGV / FIELDS
for i = 0, count - 1 do
  local a, k = i * FIELDS, EVENT_KEYS + 2 * i
  apply(ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], tonumber(ARGV[a + 4]), ARGV[a + 5], ARGV[a + 6],
    ARGV[a + 7], KEYS[k + 1], KEYS[k + 2])
end
return count
