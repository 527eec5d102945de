"""The watchers' side of Redis (repository.py has the rest): an event's pulse, and presence
written in batches."""

from common.redis.batch import ScriptBatcher
from common.redis.client import RedisClient
from common.redis.scripts import load_script
from waitroom.event_settings import number, pairs, recent_admissions
from waitroom.models import EventState, Leave, Pulse
from waitroom.repository import LEFT_FEED, key, prefix

# Leaves one pulse returns at most; more than that since a watcher's read re-reads it.
MAX_LEAVES = 5000
# Tokens one presence call marks at most: a call stays short, however many watch.
TOUCH_BATCH = 500


class WatchRepository:
    def __init__(self, redis: RedisClient, batch: ScriptBatcher) -> None:
        self._batch = batch
        self._pulse = load_script(redis, "waitroom", "pulse")
        self._touch = load_script(redis, "waitroom", "touch")

    async def pulse(self, event_id: str, after_left_seq: int, now_ms: int) -> Pulse | None:
        """The event's pulse, with the leaves after `after_left_seq`; None: no such event."""
        keys = [key(event_id, "config"), key(event_id, "admits"), key(event_id, LEFT_FEED)]
        reply = await self._batch.call(self._pulse, keys, [after_left_seq, MAX_LEAVES])
        if not reply:
            return None
        config, admits, left = reply
        state, sold_out, head, popped, waiting, opens_at, batch_size, left_seq = config
        recent, window = recent_admissions(pairs(admits), now_ms)
        leaves = tuple(
            Leave(int(left[i]), int(left[i + 1]), str(left[i + 2])) for i in range(0, len(left), 3)
        )
        return Pulse(
            state=EventState(state),
            sold_out=sold_out == "1",
            head=number(head),
            popped=number(popped),
            waiting=0 if sold_out == "1" else number(waiting),
            opens_at_ms=number(opens_at),
            batch_size=number(batch_size),
            left_seq=number(left_seq),
            recent_admissions=recent,
            rate_window_ms=window,
            leaves=leaves,
        )

    async def touch(self, event_id: str, tokens: list[str], now_ms: int) -> int:
        """Marks these waiting people as still there now; returns how many were marked."""
        marked = 0
        for start in range(0, len(tokens), TOUCH_BATCH):
            args = [now_ms // 1000, *tokens[start : start + TOUCH_BATCH]]
            marked += int(await self._batch.call(self._touch, [prefix(event_id)], args))
        return marked
