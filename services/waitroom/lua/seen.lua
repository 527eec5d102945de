-- Presence of people who poll, in a batch: a serving process answers their status reads from
-- memory (lines.py) and writes here, every so often, that they are still there. A place given up
-- already (no poll within QUEUE_SESSION_TTL) stays given up; a session no longer waiting is
-- left as it is. Both are returned, so the process reads them from Redis from then on.
-- KEYS[1] the event's key prefix (its line's keys)
-- ARGV[1] now_s, ARGV[2] session_ttl_s, ARGV[3..] tokens
-- Returns the tokens that are not waiting (any more).
local prefix = event_prefix(KEYS[1])
local now_s, ttl = tonumber(ARGV[1]), tonumber(ARGV[2])
local gone = {}
for i = 3, #ARGV do
  local token = ARGV[i]
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
