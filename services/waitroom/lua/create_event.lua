-- Creates an event and records EVENT_UPDATED in its outbox; an existing event stays as it is.
-- KEYS[1] config, KEYS[2] outbox
-- ARGV    field/value pairs of the config (names and units: event_settings.py)
-- Returns the new config hash, flat (as HGETALL), or 0 when the event exists already.
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
redis.call('HSET', KEYS[1], 'version', 1, 'seq', 0, 'waiting', 0, 'admitted_total', 0)
clamp_batch(KEYS[1])
pcall(redis.call, 'XGROUP', 'CREATE', KEYS[2], 'relay', '0', 'MKSTREAM')
local c = redis.call('HGETALL', KEYS[1])
redis.call('XADD', KEYS[2], '*', 'kind', 'updated', unpack(c))
return c
