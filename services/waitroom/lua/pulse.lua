-- An event's pulse: what every watcher of the event needs, read once per serving process and
-- interval, whatever the number of watchers. Admission takes places in order, so a waiting
-- person whose place is at most `head` has been taken (admitted, or given up); `popped` places
-- were taken so far, all ahead of everyone still waiting; the left feed names who left.
-- KEYS[1] config, KEYS[2] admissions per 10 s bucket, KEYS[3] the left feed (leave.lua)
-- ARGV[1] the left_seq after which to return the feed's entries, ARGV[2] most entries returned
-- Returns false for an unknown event, else {{state, sold_out, head, popped, waiting, opens_at,
-- batch_size, left_seq}, the admissions buckets flat, {seq, place, token, ...} of the feed}.
local cfg = redis.call('HMGET', KEYS[1], 'state', 'sold_out', 'head', 'popped', 'waiting',
  'opens_at', 'batch_size', 'left_seq')
if not cfg[1] then return false end
local left = left_since(KEYS[3], cfg[8], ARGV[1], ARGV[2])
return {cfg, redis.call('HGETALL', KEYS[2]), left}
