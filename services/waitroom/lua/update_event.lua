-- Changes an event's settings or state, records EVENT_UPDATED in its outbox, and returns the
-- event as GetEvent shows it: an update is one round trip. A refused change changes nothing.
-- KEYS[1] config, KEYS[2] outbox, KEYS[3] processing
-- ARGV[1] now_ms
-- ARGV[2] action: 'pause', 'resume', 'close', or '' for none
-- ARGV[3..] field/value pairs of the settings to change (names and units: event_settings.py)
-- Returns {'refused', 'not_found' | 'closed' | 'not_paused' | 'already_open'}, or
-- {'ok', the config hash flat (as HGETALL), people in processing}.
local cfg = redis.call('HMGET', KEYS[1], 'state', 'opens_at')
if not cfg[1] then return {'refused', 'not_found'} end
if cfg[1] == 'closed' then return {'refused', 'closed'} end
local now = tonumber(ARGV[1])
local action = ARGV[2]
if action == 'resume' and cfg[1] ~= 'paused' then return {'refused', 'not_paused'} end
local changes = {}
for i = 3, #ARGV, 2 do
  if ARGV[i] == 'opens_at' and now >= tonumber(cfg[2]) then return {'refused', 'already_open'} end
  changes[#changes + 1] = ARGV[i]
  changes[#changes + 1] = ARGV[i + 1]
end
local states = {pause = 'paused', resume = 'open', close = 'closed'}
redis.call('HSET', KEYS[1], 'state', states[action] or cfg[1], 'updated_at', now, unpack(changes))
clamp_batch(KEYS[1])
redis.call('HINCRBY', KEYS[1], 'version', 1)
local c = redis.call('HGETALL', KEYS[1])
redis.call('XADD', KEYS[2], '*', 'kind', 'updated', unpack(c))
return {'ok', c, redis.call('ZCARD', KEYS[3])}
