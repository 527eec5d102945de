-- An event's line as a serving process keeps it in memory (lines.py), so that a status read
-- costs no Redis round trip: one call per process and half interval, whatever the number of
-- people. It returns what changed the counts since the caller's last call (joins after the
-- opening are the join sequence; leaves are the left feed), the people at the front in full
-- (the frontier: every place of the first buckets that together hold at least `exact` people),
-- and, when asked, every bucket's count (a snapshot).
-- KEYS[1] config, KEYS[2] admissions per 10 s bucket, KEYS[3] the left feed (leave.lua),
-- KEYS[4] the event's key prefix (its line's keys)
-- ARGV[1] the left_seq after which to return the feed's entries, ARGV[2] most entries returned,
-- ARGV[3] people the frontier covers at least, ARGV[4] '1' for every bucket's count
-- Returns false for an unknown event, else {{state, sold_out, head, popped, waiting, opens_at,
-- batch_size, left_seq, seq}, the admissions buckets flat, {seq, place, token, ...} of the
-- feed, {bucket, {places}, ...} of the frontier, the frontier's last bucket (-1 when it holds
-- the whole line), the counts flat ({} unless asked)}.
local cfg = redis.call('HMGET', KEYS[1], 'state', 'sold_out', 'head', 'popped', 'waiting',
  'opens_at', 'batch_size', 'left_seq', 'seq')
if not cfg[1] then return false end
local prefix = event_prefix(KEYS[4])
local left = left_since(KEYS[3], cfg[8], ARGV[1], ARGV[2])

-- the first buckets, in order, until they hold `exact` people
local frontier, last, covered, exact = {}, -1, 0, tonumber(ARGV[3])
local blocks, listed = redis.call('HGETALL', prefix .. 'blocks'), {}
for i = 1, #blocks, 2 do
  if tonumber(blocks[i + 1]) > 0 then listed[#listed + 1] = tonumber(blocks[i]) end
end
table.sort(listed)
for _, block in ipairs(listed) do
  local buckets, counts = block_counts(prefix, block)
  for i, n in ipairs(counts) do
    if n and tonumber(n) > 0 then
      frontier[#frontier + 1] = buckets[i]
      frontier[#frontier + 1] = redis.call('HKEYS', prefix .. 'line:' .. buckets[i])
      covered = covered + tonumber(n)
      if covered >= exact then last = buckets[i] break end
    end
  end
  if last >= 0 then break end
end

local counts = {}
if ARGV[4] == '1' then counts = redis.call('HGETALL', prefix .. 'counts') end
return {cfg, redis.call('HGETALL', KEYS[2]), left, frontier, last, counts}
