"""WatchQueueStatus: a stream per person, kept up by one pulse per event and serving process.

Twice per processing interval (and at once on a hint) the hub reads each watched event's
pulse, follows every watcher's place from it (watch_line.py; when nothing moved, only the
streams due hear again), reads from Redis only those whose status may have changed, and
wakes the streams with something worth sending or due. Presence goes in batches: an open
stream keeps its person's place; a closed one starts the abandonment clock."""

import asyncio
import contextlib
import logging
import math
from collections import Counter
from collections.abc import AsyncGenerator, Callable

from common.tokens.ids import parse_session_id
from waitroom.estimates import STREAM_FLOOR_SECONDS, cadence
from waitroom.models import NotFoundError, Pulse, ShuttingDownError, Status, TooManyStreamsError
from waitroom.service import QueueService, QueueStatus
from waitroom.watch_line import (
    WATCH_HINT,
    Leaves,
    PulseStore,
    QueueUpdate,
    WatchConfig,
    Watcher,
    followed,
    hinted,
    is_final,
    keep_alive,
    needs_read,
    newer_than,
    unchanged,
    worth_sending,
)

__all__ = ["POKE_LINGER", "WATCH_HINT", "PulseStore", "WatchConfig", "WatchHub", "hinted"]
logger = logging.getLogger(__name__)
# A hinted pulse waits this long for more hints, so a busy line (leaves every few ms) costs
# a pulse every POKE_LINGER at most, not one per hint.
POKE_LINGER = 0.02


class WatchHub:
    def __init__(
        self,
        queue: QueueService,
        store: PulseStore,
        config: WatchConfig,
        clock_ms: Callable[[], int],
        streams_open: Callable[[int], None] = lambda n: None,
    ) -> None:
        """streams_open(n): told the number of open streams whenever it changes."""
        self._queue, self._store, self._config, self._now = queue, store, config, clock_ms
        self._tick, self._streams_open = config.interval / 2, streams_open
        self._lines: dict[str, set[Watcher]] = {}
        self._per_session: Counter[str] = Counter()
        self._closed: dict[str, list[str]] = {}  # tokens of ended streams: presence to write
        self._poked: set[str] = set()
        self._pulses: dict[str, tuple[Pulse, int]] = {}  # each event's last full beat, its time
        self._wake, self._stopping = asyncio.Event(), asyncio.Event()
        self.closing = False

    async def watch(self, session_id: str) -> AsyncGenerator[QueueUpdate, None]:
        """The stream's messages; raises NotFoundError, TooManyStreamsError, ShuttingDownError."""
        watcher = await self._open(session_id)
        try:
            while True:
                await watcher.wait()  # the generator's own frame waits: no coroutine per stream
                if (update := self._next(watcher)) is not None:
                    yield update
                    if update.final:
                        return
        finally:
            self._close(watcher)

    def poke(self, event_id: str) -> None:
        """The event's line changed (a hint, an admission here): pulse it now."""
        if event_id in self._lines:
            self._poked.add(event_id)
            self._wake.set()

    def hear(self, hint: str) -> None:  # another replica's
        event_id = hinted(hint)
        if event_id:
            self.poke(event_id)

    async def _open(self, session_id: str) -> Watcher:
        if self.closing:
            raise ShuttingDownError("this server is shutting down; reconnect to another")
        if self._per_session[session_id] >= self._config.streams_per_session:
            limit = self._config.streams_per_session
            raise TooManyStreamsError(f"at most {limit} open streams per session")
        self._per_session[session_id] += 1  # before the read: concurrent opens count too
        try:
            event_id, record = await self._queue.read(session_id, touch=True)
        except BaseException:
            self._release(session_id)
            raise
        now = asyncio.get_running_loop().time()
        _, token = parse_session_id(session_id)
        watcher = Watcher(session_id, event_id, token, record, self._now(), now)
        self._lines.setdefault(event_id, set()).add(watcher)
        self._streams_open(self.open_streams())
        self._offer(watcher, self._queue.describe(session_id, event_id, record), now)
        return watcher

    def _next(self, watcher: Watcher) -> QueueUpdate | None:
        """The message a woken stream sends, or None when nothing is to be sent yet."""
        if watcher.closing:
            raise ShuttingDownError("this server is shutting down; reconnect to another")
        if watcher.error is not None:
            raise watcher.error
        status = watcher.take()
        if status is None:
            return None
        if is_final(status):
            return QueueUpdate(status, 0, True)
        wait, config = status.estimated_wait_seconds, self._config
        floor = min(max(config.interval, STREAM_FLOOR_SECONDS), config.max_silence)
        within = math.ceil(cadence(wait, floor, config.max_silence))
        watcher.due = asyncio.get_running_loop().time() + within - self._tick
        return QueueUpdate(status, within, False)

    def _offer(self, watcher: Watcher, status: QueueStatus, now: float) -> None:
        """Wakes the stream when the status is worth sending, or its next message is due."""
        if worth_sending(watcher, status, now):
            watcher.latest = status
            watcher.done = is_final(status)
            watcher.wake()

    def _close(self, watcher: Watcher) -> None:
        line = self._lines.get(watcher.event_id, set())
        line.discard(watcher)
        if not line:
            self._lines.pop(watcher.event_id, None)
            self._pulses.pop(watcher.event_id, None)
        self._release(watcher.session_id)
        self._streams_open(self.open_streams())
        if watcher.record.status is Status.QUEUED:  # the abandonment clock starts now
            self._closed.setdefault(watcher.event_id, []).append(watcher.token)

    def _release(self, session_id: str) -> None:
        self._per_session[session_id] -= 1
        if self._per_session[session_id] <= 0:
            del self._per_session[session_id]

    def open_streams(self) -> int:
        return sum(len(line) for line in self._lines.values())

    # --- the pulse ------------------------------------------------------------------------

    async def run(self) -> None:
        """Pulses every watched event twice per interval, and a poked one at once; writes
        presence; until stop(), then writes the presence of the streams that ended."""
        loop = asyncio.get_running_loop()
        next_tick = loop.time()
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(0.0, next_tick - loop.time()))
            self._wake.clear()
            if loop.time() >= next_tick:
                events, self._poked = set(self._lines), set()
                next_tick = loop.time() + self._tick
                await self._presence(loop.time())
            else:
                await asyncio.sleep(POKE_LINGER)  # hints that follow close on go together
                events, self._poked = self._poked & set(self._lines), set()
            beats = await asyncio.gather(*(self._beat(e) for e in events), return_exceptions=True)
            for event_id, beat in zip(events, beats, strict=True):
                if isinstance(beat, Exception):  # one bad beat must never stop the others
                    logger.error("could not pulse %s", event_id, exc_info=beat)
        await self._presence(loop.time())

    async def _beat(self, event_id: str) -> None:
        watchers = [w for w in self._lines.get(event_id, ()) if not w.done]
        if not watchers:
            return
        after = min(w.record.left_seq for w in watchers)
        try:
            pulse = await self._store.pulse(event_id, after, self._now())
        except Exception as error:  # Redis away: the streams keep their last status
            logger.warning("no pulse of %s: %r", event_id, error)
            return
        now, now_ms, reads = asyncio.get_running_loop().time(), self._now(), []
        if unchanged(pulse, self._pulses.get(event_id)):  # only the streams due hear again
            keep_alive(watchers, now)
            return await self._read([w for w in watchers if w.stale])
        if pulse is not None:
            self._pulses[event_id] = (pulse, now_ms)
        leaves = None if pulse is None else Leaves(pulse, after)
        for w in watchers:
            if pulse is None or leaves is None or needs_read(w, pulse, leaves, now_ms):
                reads.append(w)
            elif newer_than(w.record, pulse):
                continue
            else:
                w.record = followed(w.record, pulse, leaves)
                self._offer(w, self._queue.describe(w.session_id, event_id, w.record), now)
        await self._read(reads)

    async def _read(self, watchers: list[Watcher]) -> None:
        """Reads these people from Redis, once each, and offers what it says."""
        reads = [self._queue.read(w.session_id, touch=False) for w in watchers]
        read_at = self._now()
        results = await asyncio.gather(*reads, return_exceptions=True)
        now = asyncio.get_running_loop().time()
        for w, result in zip(watchers, results, strict=True):
            if isinstance(result, NotFoundError):
                w.error = result
                w.wake()
            elif isinstance(result, BaseException):
                logger.warning("could not read %s: %r", w.session_id, result)
                w.stale = True
            else:
                w.record, w.read_at_ms, w.stale = result[1], read_at, False
                self._offer(w, self._queue.describe(w.session_id, w.event_id, w.record), now)

    async def _presence(self, now: float) -> None:
        """Writes presence: open streams not written lately, and the streams that ended."""
        closed, self._closed = self._closed, {}
        every = self._config.presence_every
        for event_id in set(self._lines) | set(closed):
            stale = [w for w in self._lines.get(event_id, ()) if now - w.touched_at >= every]
            tokens = [w.token for w in stale] + closed.get(event_id, [])
            if not tokens:
                continue
            try:
                await self._store.touch(event_id, tokens, self._now())
            except Exception as error:  # written at the next tick instead
                logger.warning("could not write presence of %s: %r", event_id, error)
                self._closed.setdefault(event_id, []).extend(closed.get(event_id, []))
                continue
            for w in stale:
                w.touched_at = now

    def shut(self) -> None:
        """SIGTERM: every stream ends UNAVAILABLE (reconnect elsewhere); no new one opens."""
        self.closing = True
        for line in self._lines.values():
            for watcher in line:
                watcher.closing = True
                watcher.wake()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
