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
local left = {}
if tonumber(cfg[8] or 0) > tonumber(ARGV[1]) then
  local entries = redis.call('XRANGE', KEYS[3], '(0-' .. ARGV[1], '+', 'COUNT', ARGV[2])
  for _, entry in ipairs(entries) do
    local fields = entry[2]
    left[#left + 1] = string.match(entry[1], '^0%-(%d+)$')
    left[#left + 1] = fields[4]
    left[#left + 1] = fields[2]
  end
end
return {cfg, redis.call('HGETALL', KEYS[2]), left}
