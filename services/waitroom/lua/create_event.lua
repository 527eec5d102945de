-- Creates an event and records EVENT_UPDATED in its outbox.
-- KEYS: config, outbox    ARGV: field/value pairs of the config
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
redis.call('HSET', KEYS[1], 'version', 1, 'seq', 0, 'waiting', 0, 'admitted_total', 0)
pcall(redis.call, 'XGROUP', 'CREATE', KEYS[2], 'relay', '0', 'MKSTREAM')
local c = redis.call('HGETALL', KEYS[1])
redis.call('XADD', KEYS[2], '*', 'kind', 'updated', unpack(c))
return 1
