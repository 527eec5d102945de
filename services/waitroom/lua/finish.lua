-- Applies a checkout outcome to an admitted session and frees its slot; a replay is a no-op.
-- KEYS[1] session, KEYS[2] processing, KEYS[3] seen marker of the message
-- ARGV[1] token, ARGV[2] status to set ('completed', 'expired', 'cancelled', 'sold_out'),
-- ARGV[3] now_ms, ARGV[4] how long the message id is remembered (s)
-- Returns 'applied', 'duplicate' (a message seen before), or 'ignored' (the session had ended
-- or is unknown; its slot is freed all the same).
if redis.call('SET', KEYS[3], 1, 'NX', 'EX', ARGV[4]) == false then return 'duplicate' end
local status = redis.call('HGET', KEYS[1], 'status')
redis.call('ZREM', KEYS[2], ARGV[1])
-- checkout's holds are the truth about buying: a purchase beats our own deadline
if status == 'admitted' or (status == 'expired' and ARGV[2] == 'completed') then
  redis.call('HSET', KEYS[1], 'status', ARGV[2], 'ended_at', ARGV[3])
  return 'applied'
end
return 'ignored'
