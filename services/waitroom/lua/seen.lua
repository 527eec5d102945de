-- Presence of people who poll, in a batch: a serving process answers their status reads from
-- memory (lines.py) and writes here, every so often, that they are still there. A place given up
-- already (no poll within QUEUE_SESSION_TTL) stays given up; a session no longer waiting is
-- left as it is. Both are returned, so the process reads them from Redis from then on.
-- KEYS[1] the event's key prefix (its line's keys)
-- ARGV[1] session_ttl_s, ARGV[2..] token, the second of its last poll, token, second, ...
-- Returns the tokens that are not waiting (any more).
local prefix = event_prefix(KEYS[1])
local ttl = tonumber(ARGV[1])
local gone = {}
for i = 2, #ARGV, 2 do
  local token, now_s = ARGV[i], tonumber(ARGV[i + 1])
  local wait = prefix .. 'wait:' .. token_bucket(token)
  local value = redis.call('HGET', wait, token)
  if not value then
    gone[#gone + 1] = token
  else
    local place, seen, user = parse_record(value)
    if now_s - seen > ttl then
      gone[#gone + 1] = token
    elseif now_s > seen then
      redis.call('HSET', wait, token, record_of(place, now_s, user))
    end
  end
end
return gone
