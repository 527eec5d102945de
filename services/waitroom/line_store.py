"""The line views' side of Redis (repository.py has the rest): an event's line for the view
a serving process keeps, and the presence of people who poll, written in batches."""

from common.redis.batch import ScriptBatcher
from common.redis.client import RedisClient
from common.redis.scripts import load_script
from waitroom.event_settings import number, pairs
from waitroom.line_view import LinePulse
from waitroom.models import EventState, Leave
from waitroom.repository import LEFT_FEED, key, prefix, recent_admissions

# Leaves one reply returns at most; more are read in pages of as many (a view started late
# reads the whole left feed once).
MAX_LEAVES = 5000
# Tokens one presence call marks at most: a call stays short, however many poll.
SEEN_BATCH = 500


class LineRepository:
    def __init__(self, redis: RedisClient, batch: ScriptBatcher, session_ttl_s: int) -> None:
        self._redis, self._batch, self._ttl = redis, batch, session_ttl_s
        self._line = load_script(redis, "waitroom", "line")
        self._seen = load_script(redis, "waitroom", "seen")

    async def line(
        self, event_id: str, after_left_seq: int, exact: int, counts: bool, now_ms: int
    ) -> LinePulse | None:
        """The line since `after_left_seq`, its first `exact` people or more in full, and with
        `counts` every bucket's count; None: no such event."""
        keys = [key(event_id, "config"), key(event_id, "admits"), key(event_id, LEFT_FEED)]
        keys.append(prefix(event_id))
        args = [after_left_seq, MAX_LEAVES, exact, "1" if counts else "0"]
        reply = await self._batch.call(self._line, keys, args)
        if not reply:
            return None
        config, admits, left, frontier, last, flat_counts = reply
        state, sold_out, head, popped, waiting, opens_at, batch_size, left_seq, seq = config
        recent, window = recent_admissions(pairs(admits), now_ms)
        leaves = await self._leaves(event_id, left, after_left_seq, number(left_seq))
        return LinePulse(
            state=EventState(state),
            sold_out=sold_out == "1",
            head=number(head),
            popped=number(popped),
            waiting=0 if sold_out == "1" else number(waiting),
            opens_at_ms=number(opens_at),
            batch_size=number(batch_size),
            left_seq=number(left_seq),
            seq=number(seq),
            recent_admissions=recent,
            rate_window_ms=window,
            leaves=tuple(leaves),
            frontier={
                int(frontier[i]): sorted(int(p) for p in frontier[i + 1])
                for i in range(0, len(frontier), 2)
            },
            frontier_end=int(last),
            counts={int(b): int(n) for b, n in pairs(flat_counts).items()} if counts else None,
        )

    async def _leaves(self, event_id: str, left: list[str], after: int, upto: int) -> list[Leave]:
        """The leaves a reply brought (flat), and the rest up to `upto` when one reply could
        not hold them all."""
        leaves = [
            Leave(int(left[i]), int(left[i + 1]), str(left[i + 2])) for i in range(0, len(left), 3)
        ]
        if len(leaves) < upto - after:
            leaves += await self._more_leaves(event_id, leaves[-1].seq if leaves else after, upto)
        return leaves

    async def _more_leaves(self, event_id: str, after: int, upto: int) -> list[Leave]:
        """The left feed's entries after seq `after` up to `upto`, read in pages."""
        found: list[Leave] = []
        while after < upto:
            entries = await self._redis.xrange(
                key(event_id, LEFT_FEED), f"(0-{after}", f"0-{upto}", count=MAX_LEAVES
            )
            if not entries:
                break  # a gap the feed cannot fill: the view takes a snapshot
            for entry_id, fields in entries:
                after = int(str(entry_id).removeprefix("0-"))
                if fields:
                    found.append(Leave(after, int(fields["place"]), str(fields["token"])))
        return found

    async def seen(self, event_id: str, polls: dict[str, int]) -> list[str]:
        """Marks these people as still there at their last poll (token -> second); returns
        those no longer waiting."""
        gone: list[str] = []
        tokens = list(polls)
        for start in range(0, len(tokens), SEEN_BATCH):
            args: list[str | int] = [self._ttl]
            for token in tokens[start : start + SEEN_BATCH]:
                args += [token, polls[token]]
            gone += [str(t) for t in await self._batch.call(self._seen, [prefix(event_id)], args)]
        return gone
