-- Changes an event's settings or state and records EVENT_UPDATED in its outbox.
-- KEYS: config, outbox    ARGV: now_ms, action ('' for none), field/value pairs
local cfg = redis.call('HMGET', KEYS[1], 'state', 'opens_at')
if not cfg[1] then return 'not_found' end
if cfg[1] == 'closed' then return 'closed' end
local now = tonumber(ARGV[1])
local action = ARGV[2]
local changes = {}
for i = 3, #ARGV, 2 do
  if ARGV[i] == 'opens_at' and now >= tonumber(cfg[2]) then return 'already_open' end
  changes[#changes + 1] = ARGV[i]
  changes[#changes + 1] = ARGV[i + 1]
end
local state = cfg[1]
if action == 'pause' then state = 'paused'
elseif action == 'resume' then state = 'open'
elseif action == 'close' then state = 'closed' end
changes[#changes + 1] = 'state'
changes[#changes + 1] = state
changes[#changes + 1] = 'updated_at'
changes[#changes + 1] = now
redis.call('HSET', KEYS[1], unpack(changes))
redis.call('HINCRBY', KEYS[1], 'version', 1)
local c = redis.call('HGETALL', KEYS[1])
redis.call('XADD', KEYS[2], '*', 'kind', 'updated', unpack(c))
return 'ok'
