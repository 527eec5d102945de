-- Leaves the line. Only a waiting session can leave; any other keeps its status.
-- KEYS[1] session, KEYS[2] wait bucket of the token, KEYS[3] config, KEYS[4] outbox,
-- KEYS[5] the event's key prefix (its line's keys), KEYS[6] the left feed: a stream whose entry
-- ids are 0-<left_seq> (consecutive, so a reader sees a gap), read by pulse.lua and line.lua so
-- that every watcher and every serving process's view of the line hears of it. It is kept whole
-- (about 70 bytes a leave), so that a view started late still learns of every leave.
-- ARGV[1] token, ARGV[2] now_ms, ARGV[3] session_ttl_s
-- Returns 'left', the status the session keeps ('admitted', 'left', 'sold_out', ...), or
-- 'not_found' (unknown, or its place given up after session_ttl_s without a poll).
local status = redis.call('HGET', KEYS[1], 'status')
if status then return status end
local value = redis.call('HGET', KEYS[2], ARGV[1])
if not value then return 'not_found' end
local place, seen, user = parse_record(value)
local now = tonumber(ARGV[2])
if math.floor(now / 1000) - seen > tonumber(ARGV[3]) then return 'not_found' end
if redis.call('HGET', KEYS[3], 'sold_out') == '1' then return 'sold_out' end
unqueue(event_prefix(KEYS[5]), ARGV[1], place)
local seq = redis.call('HINCRBY', KEYS[3], 'left_seq', 1)
-- pcall: a feed that refuses the entry leaves a gap its readers notice, never a half leave
redis.pcall('XADD', KEYS[6], '0-' .. seq, 'token', ARGV[1],
  'place', string.format('%d', place))
redis.call('HSET', KEYS[1], 'status', 'left', 'user_id', user, 'ended_at', now)
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('XADD', KEYS[4], '*', 'kind', 'left', 'session', ARGV[1], 'user', user,
  'at', now, 'reason', 'left', 'place', string.format('%d', place))
return 'left'
