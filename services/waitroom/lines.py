"""GetQueueStatus from memory: each serving process keeps a view of every event people ask
about (line_view.py), brought up to date twice per processing interval and at once on a hint,
by one Redis call per event whatever the number of people; a waiting person's status is read
from it, their place found in their session id's seal, their presence kept here and written
to Redis seldom (presence.py). Whoever may have changed (taken from the line, left, gone) is
read from Redis."""

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from common.tokens.ids import parse_sealed_session_id
from waitroom.line_view import LinePulse, LineView
from waitroom.models import SessionRecord
from waitroom.presence import PollPresence
from waitroom.service import QueueService, QueueStatus
from waitroom.watch import POKE_LINGER

logger = logging.getLogger(__name__)


class LineStore(Protocol):
    async def line(
        self, event_id: str, after_left_seq: int, exact: int, counts: bool, now_ms: int
    ) -> LinePulse | None: ...

    async def seen(self, event_id: str, polls: dict[str, int]) -> list[str]: ...


class Opener(Protocol):
    def open(self, token: str, sealed: str) -> int | None: ...


@dataclass(frozen=True, slots=True)
class LinesConfig:
    interval: float  # QUEUE_PROCESS_INTERVAL: a view is pulsed twice per interval
    presence_every: float  # how often presence is looked at (and what is due written)
    refresh: float = 1800.0  # a poller is written once their polls span this (TTL / 4)
    stopped: float = 120.0  # a poller silent this long stopped: their last poll is written
    exact: int = 1000  # people at the front whose position is exact
    keep_for: float = 60.0  # a view nobody asked about for this long is dropped
    left_for: float = 7200.0  # how long the view remembers who left (QUEUE_SESSION_TTL)


class Lines:
    def __init__(
        self,
        queue: QueueService,
        store: LineStore,
        seal: Opener,
        config: LinesConfig,
        clock_ms: Callable[[], int],
        counted: Callable[[str], None] = lambda source: None,
    ) -> None:
        """counted(source): told of each status read, "memory" or "redis"."""
        self._queue, self._store, self._seal, self._config = queue, store, seal, config
        self._now, self._counted = clock_ms, counted
        self._views: dict[str, LineView] = {}
        self._presence = PollPresence(config.refresh, config.stopped)
        self._poked: set[str] = set()
        self._wake, self._stopping = asyncio.Event(), asyncio.Event()

    async def status(self, session_id: str) -> QueueStatus:
        """The status; a poll marks the person as still there (in memory, or in Redis)."""
        event_id, token, sealed = parse_sealed_session_id(session_id)
        record = self._from_memory(event_id, token, sealed)
        if record is None:
            event_id, record = await self._queue.read(session_id, touch=True)
            self._counted("redis")
        else:
            self._presence.polled(event_id, token, self._now() // 1000)
            self._counted("memory")
        return self._queue.describe(session_id, event_id, record)

    def _from_memory(self, event_id: str, token: str, sealed: str) -> SessionRecord | None:
        now_ms = self._now()
        view = self._views.get(event_id)
        if view is None:  # this event's first read here: its view starts
            self._views[event_id] = LineView(event_id, used_at_ms=now_ms)
            self.poke(event_id)
            return None
        view.used_at_ms = now_ms
        fresh = now_ms - view.pulsed_at_ms <= self._config.interval * 2000
        place = self._seal.open(token, sealed) if sealed and fresh else None
        return None if place is None else view.record(token, place, now_ms)

    def poke(self, event_id: str) -> None:
        """The event's line changed (a hint, an admission or a leave here): pulse it now."""
        if event_id in self._views:
            self._poked.add(event_id)
            self._wake.set()

    def views(self) -> int:
        return len(self._views)

    async def run(self) -> None:
        """Pulses every view twice per interval, and a poked one at once; writes presence;
        until stop(), then writes the presence gathered since the last write."""
        loop = asyncio.get_running_loop()
        next_tick = next_presence = loop.time()
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(0.0, next_tick - loop.time()))
            self._wake.clear()
            if loop.time() >= next_tick:
                events, self._poked = set(self._views), set()
                next_tick = loop.time() + self._config.interval / 2
                self._retire()
            else:
                await asyncio.sleep(POKE_LINGER)  # hints that follow close on go together
                events, self._poked = self._poked & set(self._views), set()
            await asyncio.gather(*(self._pulse(e) for e in events))
            if loop.time() >= next_presence:
                next_presence = loop.time() + self._config.presence_every
                await self._write_presence()
        await self._write_presence(everyone=True)

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def _pulse(self, event_id: str) -> None:
        view = self._views.get(event_id)
        if view is None:
            return
        try:
            for _ in range(2):  # a view that cannot follow takes a snapshot at once
                now_ms = self._now()
                counts = view.needs_counts(now_ms)
                exact = self._config.exact
                pulse = await self._store.line(event_id, view.left_seq, exact, counts, now_ms)
                if pulse is None:  # no such event (any more)
                    self._views.pop(event_id, None)
                    return
                if view.apply(pulse, now_ms):
                    return
            logger.warning("the view of %s does not add up; reads go to Redis", event_id)
        except Exception as error:  # Redis away: reads go to Redis until a pulse works
            logger.warning("no line of %s: %r", event_id, error)

    def _retire(self) -> None:
        now_ms = self._now()
        for event_id, view in list(self._views.items()):
            if now_ms - view.used_at_ms > self._config.keep_for * 1000:
                del self._views[event_id]
            else:
                view.forget_left(now_ms - int(self._config.left_for * 1000))

    async def _write_presence(self, everyone: bool = False) -> None:
        now_s = self._now() // 1000
        for event_id, polls in self._presence.due(now_s, everyone).items():
            try:
                gone = await self._store.seen(event_id, polls)
            except Exception as error:  # still due at the next round
                logger.warning("could not write presence of %s: %r", event_id, error)
                continue
            self._presence.written(event_id, polls, now_s, gone)
            view = self._views.get(event_id)
            if view is not None:
                view.gone.update(gone)
