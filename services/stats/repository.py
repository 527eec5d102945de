"""The only stats module that talks to Redis: applying events and reading the figures."""

import asyncio
import math
import time
from collections.abc import Sequence
from typing import Any

from common.redis.batch import ScriptBatcher
from common.redis.client import RedisClient
from common.redis.scripts import KeySpace, load_script
from stats.models import Change, Counts, Outcome, RawFigures, SessionFacts

EVENTS_KEY = "stats:events"
LISTED_FOR_S = 60.0
SETS = ("joined", "admitted", "completed", "expired", "cancelled", "left")
# the event-wide keys of lua/apply.lua, in its order; each message adds its session and user
EVENT_KEYS = ("config", *SETS, "waits", "checkout_times", "admitted_times")


key = KeySpace("stats").key


class StatsRepository:
    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis
        self._apply = load_script(redis, "stats", "apply")
        # the pool's workers apply concurrently: their scripts share pipelines
        self._batch = ScriptBatcher(redis)
        self._listed: dict[str, float] = {}  # event -> when this process last put it in EVENTS_KEY

    async def ping(self) -> bool:
        return bool(await self._redis.ping())

    async def event_ids(self) -> list[str]:
        return sorted(str(e) for e in await self._redis.smembers(EVENTS_KEY))

    async def apply(self, changes: Sequence[Change]) -> None:
        """Applies a batch of changes: one script call per event, all sent together."""
        by_event: dict[str, list[Change]] = {}
        for change in changes:
            by_event.setdefault(change.event_id, []).append(change)
        unlisted = [
            e
            for e in by_event
            if time.monotonic() - self._listed.get(e, -LISTED_FOR_S) >= LISTED_FOR_S
        ]
        if unlisted:
            # SADD is idempotent: once a minute per event and process is enough, and still
            # puts the event back should Redis lose the set
            await self._redis.sadd(EVENTS_KEY, *unlisted)
            for e in unlisted:
                self._listed[e] = time.monotonic()
        await asyncio.gather(*(self._apply_event(e, batch) for e, batch in by_event.items()))

    async def _apply_event(self, event_id: str, changes: list[Change]) -> None:
        keys = [key(event_id, name) for name in EVENT_KEYS]
        args: list[str | int] = []
        for c in changes:
            keys += (key(event_id, f"session:{c.session_id}"), key(event_id, f"user:{c.user_id}"))
            args += (c.kind, c.session_id, c.user_id, c.at_ms, c.value, c.reason, c.tickets)
        await self._batch.call(self._apply, keys, args)

    async def figures(self, event_id: str, now_ms: int) -> RawFigures:
        async with self._redis.pipeline(transaction=False) as pipe:
            for name in SETS:
                pipe.scard(key(event_id, name))
            pipe.hmget(key(event_id, "config"), ["tickets_total", "tickets_sold", "sold_out"])
            pipe.zcard(key(event_id, "waits"))
            pipe.zcard(key(event_id, "checkout_times"))
            pipe.zcount(key(event_id, "admitted_times"), now_ms - 60_000, now_ms)
            *counts, config, waits, checkouts, last_minute = await pipe.execute()
        return RawFigures(
            counts=Counts(**dict(zip(SETS, (int(c) for c in counts), strict=True))),
            tickets_total=int(config[0] or 0),
            tickets_sold=int(config[1] or 0),
            sold_out=config[2] == "1",
            waits_ms=await self._percentiles(key(event_id, "waits"), waits, (50, 90, 99)),
            checkout_ms=await self._percentiles(
                key(event_id, "checkout_times"), checkouts, (50, 90, 99)
            ),
            admitted_last_minute=int(last_minute),
        )

    async def _percentiles(
        self, zset: str, size: int, qs: tuple[int, int, int]
    ) -> tuple[float, float, float]:
        """Nearest-rank percentiles of a sorted set's scores."""
        if not size:
            return (0.0, 0.0, 0.0)
        async with self._redis.pipeline(transaction=False) as pipe:
            for q in qs:
                rank = max(math.ceil(q / 100 * size) - 1, 0)
                pipe.zrange(zset, rank, rank, withscores=True)
            found: list[Any] = await pipe.execute()
        p50, p90, p99 = (float(row[0][1]) for row in found)
        return (p50, p90, p99)

    async def sessions_of(self, event_id: str, user_id: str) -> list[SessionFacts]:
        ids = sorted(str(s) for s in await self._redis.smembers(key(event_id, f"user:{user_id}")))
        async with self._redis.pipeline(transaction=False) as pipe:
            for session_id in ids:
                pipe.hgetall(key(event_id, f"session:{session_id}"))
            rows: list[dict[str, str]] = await pipe.execute()
        return [
            SessionFacts(
                session_id,
                Outcome(row.get("outcome", Outcome.QUEUED)),
                int(row.get("joined_at", 0)),
                int(row.get("admitted_at", 0)),
                int(row.get("ended_at", 0)),
                int(row.get("tickets", 0)),
            )
            for session_id, row in zip(ids, rows, strict=True)
        ]
