-- Prepended to every checkout script: hand tickets that came back to holds waiting for them.
-- Hold keys are built only as hold_prefix .. token, where hold_prefix is the hash-tagged
-- `checkout:{E}:hold:` the caller passed in KEYS: every key lands in the event's slot.

-- The hold prefix a script was given, refused unless it carries a hash tag.
local function tagged_prefix(prefix)
  if not string.match(prefix, '^[^{]*{[^}]+}:hold:$') then
    error('not a hold key prefix with a hash tag: ' .. prefix)
  end
  return prefix
end

-- Gives available tickets to the oldest holds that got none, up to per_hold each.
local function refill(config, waiting, hold_prefix, now)
  local available = tonumber(redis.call('HGET', config, 'available'))
  local per_hold = tonumber(redis.call('HGET', config, 'per_hold') or '1')
  while available > 0 do
    local oldest = redis.call('ZPOPMIN', waiting)
    if #oldest == 0 then break end
    local key = hold_prefix .. oldest[1]
    local h = redis.call('HMGET', key, 'status', 'quantity', 'expires_at')
    if h[1] == 'held' and tonumber(h[2]) == 0 and tonumber(h[3]) > now then
      local quantity = math.min(per_hold, available)
      redis.call('HSET', key, 'quantity', quantity)
      available = available - quantity
    end
  end
  redis.call('HSET', config, 'available', available)
end

-- Every ticket is sold: holds still waiting end as sold out, and their slots are freed.
local function close_waiting(waiting, holds, outbox, hold_prefix, session_prefix, now)
  for _, token in ipairs(redis.call('ZRANGE', waiting, 0, -1)) do
    local key = hold_prefix .. token
    local h = redis.call('HMGET', key, 'status', 'user_id', 'seal')
    if h[1] == 'held' then
      redis.call('HSET', key, 'status', 'sold_out')
      redis.call('ZREM', holds, token)
      redis.call('XADD', outbox, '*', 'kind', 'expired', 'session',
        session_prefix .. token .. (h[3] or ''),
        'user', h[2], 'at', now, 'reason', 'sold_out')
    end
  end
  redis.call('DEL', waiting)
end
