-- Applies a checkout outcome to an admitted session and frees its slot; a replay is a no-op.
-- KEYS: session, processing, seen    ARGV: token, status, now_ms, seen_ttl_s
if redis.call('SET', KEYS[3], 1, 'NX', 'EX', ARGV[4]) == false then return 'duplicate' end
local status = redis.call('HGET', KEYS[1], 'status')
redis.call('ZREM', KEYS[2], ARGV[1])
-- checkout's holds are the truth about buying: a purchase beats our own deadline
if status == 'admitted' or (status == 'expired' and ARGV[2] == 'completed') then
  redis.call('HSET', KEYS[1], 'status', ARGV[2], 'ended_at', ARGV[3])
  return 'applied'
end
return status or 'not_found'
