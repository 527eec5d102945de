-- Applies EVENT_UPDATED: the ticket total and tickets per hold; older versions and replays
-- are ignored. Tickets that the new total frees go to holds waiting for them.
-- KEYS[1] config    the event's settings and inventory (hash)
-- KEYS[2] outbox    stream; its relay group is made here
-- KEYS[3] seen      this message's idempotency key
-- KEYS[4] waiting   holds with no ticket yet (sorted set)
-- KEYS[5] hold_prefix (the hash-tagged `checkout:{E}:hold:`)
-- ARGV[1] version   ARGV[2] tickets   ARGV[3] seen_ttl_s   ARGV[4] per_hold
-- ARGV[5] now_ms
-- Returns 'applied', 'stale' (an older version) or 'duplicate' (a replayed message).
if redis.call('SET', KEYS[3], 1, 'NX', 'EX', ARGV[3]) == false then return 'duplicate' end
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
  'sold', current[4] or 0, 'per_hold', ARGV[4])
pcall(redis.call, 'XGROUP', 'CREATE', KEYS[2], 'relay', '0', 'MKSTREAM')
refill(KEYS[1], KEYS[4], tagged_prefix(KEYS[5]), tonumber(ARGV[5]))
return 'applied'
