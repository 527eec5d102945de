-- Applies EVENT_UPDATED: settings and the ticket total; older versions and replays are ignored.
-- KEYS: config, outbox, seen, waiting
-- ARGV: version, tickets, checkout_ttl, state, seen_ttl_s, per_hold, hold_prefix, now_ms
if redis.call('SET', KEYS[3], 1, 'NX', 'EX', ARGV[5]) == false then return 'duplicate' end
local version = tonumber(ARGV[1])
local current = redis.call('HMGET', KEYS[1], 'version', 'total', 'available', 'sold')
if current[1] and tonumber(current[1]) >= version then return 'stale' end
local tickets = tonumber(ARGV[2])
local available = tickets
if current[2] then
  -- the total changed: what is not sold or held follows it, never below zero
  available = math.max(0, tonumber(current[3]) + tickets - tonumber(current[2]))
end
redis.call('HSET', KEYS[1], 'version', version, 'total', tickets, 'available', available,
  'sold', current[4] or 0, 'checkout_ttl', ARGV[3], 'state', ARGV[4], 'per_hold', ARGV[6])
pcall(redis.call, 'XGROUP', 'CREATE', KEYS[2], 'relay', '0', 'MKSTREAM')
refill(KEYS[1], KEYS[4], ARGV[7], tonumber(ARGV[8]))
return 'applied'
