-- EVENT_SOLD_OUT: stop admitting. Everyone still in line reads SOLD_OUT from then on (status.lua
-- derives it), so the whole line is told at once, whatever its length.
-- KEYS[1] config
-- Returns 0.
redis.call('HSET', KEYS[1], 'sold_out', 1)
return 0
