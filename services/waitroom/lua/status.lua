-- A session's status in one round trip. Polling marks a waiting person as still there, so an
-- abandoned place is given up once QUEUE_SESSION_TTL passes without a poll (a watcher's reads
-- leave that to its batched presence, touch.lua).
-- KEYS[1] session, KEYS[2] wait bucket of the token, KEYS[3] config,
-- KEYS[4] admissions per 10 s bucket, KEYS[5] the event's key prefix (its line's keys)
-- ARGV[1] token, ARGV[2] session_ttl_s, ARGV[3] now_ms, ARGV[4] '0' to leave last-seen as it is
-- Returns false for an unknown (or given up) session, else {{status, user_id, admitted_at_ms,
-- expires_at_ms, place}, 0-based rank (-1 unless queued), people waiting, {opens_at_ms,
-- batch_size, waiting, sold_out, state, popped, left_seq}, the admissions buckets flat (as
-- HGETALL), place in line (while queued, or as recorded at admission; else 0)}. popped and
-- left_seq are those of pulse.lua, read with the rank, so that a watcher's place can follow
-- the line from here.
local cfg = redis.call('HMGET', KEYS[3], 'opens_at', 'batch_size', 'waiting', 'sold_out',
  'state', 'popped', 'left_seq')
local length = tonumber(cfg[3] or 0)
if cfg[4] == '1' then length = 0 end
local s = redis.call('HMGET', KEYS[1], 'status', 'user_id', 'admitted_at', 'expires_at', 'place')
if s[1] then
  return {s, -1, length, cfg, redis.call('HGETALL', KEYS[4]), s[5] or '0'}
end
local value = redis.call('HGET', KEYS[2], ARGV[1])
if not value then return false end
local place, seen, user = parse_record(value)
local now_s = math.floor(tonumber(ARGV[3]) / 1000)
if now_s - seen > tonumber(ARGV[2]) then return false end
if cfg[4] == '1' then
  return {{'sold_out', user, false, false}, -1, length, cfg, {}, '0'}
end
if now_s > seen and ARGV[4] ~= '0' then
  redis.call('HSET', KEYS[2], ARGV[1], record_of(place, now_s, user))
end
return {{'queued', user, false, false}, rank_of(event_prefix(KEYS[5]), place), length, cfg,
  redis.call('HGETALL', KEYS[4]), string.format('%d', place)}
