-- Presence in a batch: the watchers of one event are still there (their streams are open, or
-- have just closed: the abandonment clock starts now). A session no longer waiting is skipped.
-- KEYS[1] the event's key prefix (its line's keys)
-- ARGV[1] now_s, ARGV[2..] tokens
-- Returns how many places were marked.
local prefix = event_prefix(KEYS[1])
local now_s = tonumber(ARGV[1])
local marked = 0
for i = 2, #ARGV do
  local token = ARGV[i]
  local wait = prefix .. 'wait:' .. token_bucket(token)
  local value = redis.call('HGET', wait, token)
  if value then
    local place, seen, user = parse_record(value)
    if now_s > seen then
      redis.call('HSET', wait, token, record_of(place, now_s, user))
      marked = marked + 1
    end
  end
end
return marked
