"""The stats rules: the figures of an event, derived from what the stream recorded."""

import math
from collections.abc import Callable, Sequence
from typing import Protocol

from common.tokens.ids import validate_id
from stats.models import Change, Counts, EventFigures, NotFoundError, RawFigures, SessionFacts


class Store(Protocol):
    async def figures(self, event_id: str, now_ms: int) -> RawFigures: ...

    async def sessions_of(self, event_id: str, user_id: str) -> list[SessionFacts]: ...

    async def event_ids(self) -> list[str]: ...

    async def apply(self, changes: Sequence[Change]) -> None: ...


def derive(event_id: str, raw: RawFigures) -> EventFigures:
    c = raw.counts
    waiting = max(c.joined - c.admitted - c.left, 0)
    rate = raw.admitted_last_minute / 60
    queued_now = 0 if raw.sold_out else waiting  # at sell-out everyone in line is told
    return EventFigures(
        event_id=event_id,
        joined=c.joined,
        queued_now=queued_now,
        admitted=c.admitted,
        in_checkout_now=max(c.admitted - c.completed - c.expired - c.cancelled, 0),
        completed=c.completed,
        expired=c.expired,
        cancelled=c.cancelled,
        left=c.left,
        sold_out=raw.sold_out,
        sold_out_in_line=waiting if raw.sold_out else 0,
        tickets_total=raw.tickets_total,
        tickets_sold=raw.tickets_sold,
        tickets_left=max(raw.tickets_total - raw.tickets_sold, 0),
        conversion_rate=c.completed / c.admitted if c.admitted else 0.0,
        wait_seconds=_seconds(raw.waits_ms),
        checkout_seconds=_seconds(raw.checkout_ms),
        admission_rate_per_second=rate,
        estimated_clear_seconds=math.ceil(queued_now / rate) if rate and queued_now else 0,
    )


def _seconds(ms: tuple[float, float, float]) -> tuple[float, float, float]:
    return (ms[0] / 1000, ms[1] / 1000, ms[2] / 1000)


# An event no message reached for this long has its gauges refreshed no more: its figures
# of the last minute have come to rest by then, and the rest move only with a message.
LIVE_FOR_MS = 5 * 60_000


class StatsService:
    def __init__(self, store: Store, clock_ms: Callable[[], int]) -> None:
        self._store = store
        self._now = clock_ms
        self._last_change_ms: dict[str, int] = {}  # event -> when a message last reached it
        self._listed_all = False

    async def event(self, event_id: str) -> EventFigures:
        validate_id("event_id", event_id)
        raw = await self._store.figures(event_id, self._now())
        if raw.counts == Counts() and event_id not in await self._store.event_ids():
            raise NotFoundError(f"stats has seen nothing of event {event_id!r}")
        return derive(event_id, raw)

    async def user(self, user_id: str, event_id: str) -> list[SessionFacts]:
        validate_id("user_id", user_id)
        validate_id("event_id", event_id)
        return await self._store.sessions_of(event_id, user_id)

    async def events(self) -> list[str]:
        return await self._store.event_ids()

    async def live_events(self) -> list[str]:
        """The events whose figures may have moved since the last call: every event the
        first time, then those a message reached in the last LIVE_FOR_MS (the gauges of the
        rest stay as they were last set). A machine keeps hundreds of finished events, and
        refreshing each every few seconds cost a fifth of a core while nothing happened."""
        if not self._listed_all:
            self._listed_all = True
            return await self.events()
        since = self._now() - LIVE_FOR_MS
        for event_id in [e for e, at in self._last_change_ms.items() if at < since]:
            del self._last_change_ms[event_id]
        return list(self._last_change_ms)

    async def apply(self, changes: Sequence[Change]) -> None:
        """What the stream told, recorded; each change counts once however often it comes."""
        await self._store.apply(changes)
        now = self._now()
        for change in changes:
            self._last_change_ms[change.event_id] = now
