"""A watcher's place, followed from its event's pulse rather than read from Redis per person.

Admission takes places in order, so between two reads a waiting person's rank falls by the
places taken since (all were ahead of them) and by the leaves ahead of them (the left feed
names each with its place). A person whose place the head has passed, who left, or whose
feed has a gap, is read from Redis once; so is everyone when their event opens (the lottery's
later joins moved them).
"""

import asyncio
from bisect import bisect_left
from dataclasses import dataclass, replace
from typing import Protocol

from waitroom.estimates import moved_enough
from waitroom.models import EventState, Pulse, SessionRecord, Status
from waitroom.service import QueueStatus

WATCH_HINT = "watch"  # "watch <event_id>": the event's line changed; pulse it now


def hinted(hint: str) -> str:
    """The event a `watch <event_id>` hint names; "" for any other hint."""
    kind, _, event_id = hint.partition(" ")
    return event_id if kind == WATCH_HINT else ""


class PulseStore(Protocol):
    async def pulse(self, event_id: str, after_left_seq: int, now_ms: int) -> Pulse | None: ...
    async def touch(self, event_id: str, tokens: list[str], now_ms: int) -> int: ...


@dataclass(frozen=True, slots=True)
class WatchConfig:
    interval: float  # QUEUE_PROCESS_INTERVAL: the pulse comes twice per interval
    max_silence: float  # a stream hears at least this often: keepalive through idle proxies
    presence_every: float  # how often an open stream's presence is written
    streams_per_session: int


@dataclass(frozen=True, slots=True)
class QueueUpdate:
    """One message of a stream."""

    status: QueueStatus
    within_seconds: int  # the next message comes within this many seconds at the latest
    final: bool


def is_final(status: QueueStatus) -> bool:
    return status.status is not Status.QUEUED or status.event_state is EventState.CLOSED


@dataclass(slots=True, eq=False)
class Watcher:
    """One open stream: the last record, kept up with the pulses, and what to send next.

    A hub may hold a hundred thousand of these in one process: one object, its record and the
    status last sent, and a bare future only while the stream waits (no asyncio.Event, whose
    deque of waiters and wait() coroutine cost more than the rest of the watcher)."""

    session_id: str
    event_id: str
    token: str
    record: SessionRecord
    read_at_ms: int
    touched_at: float  # when its presence was last written (loop time)
    stale: bool = False  # read it from Redis at the next pulse
    closing: bool = False  # the server is stopping
    done: bool = False  # its final status is on its way
    error: Exception | None = None  # ends the stream (the session is gone)
    latest: QueueStatus | None = None  # to be sent
    sent: QueueStatus | None = None
    due: float = 0.0  # loop time by which the next message must go
    woken: bool = False  # something to look at since the stream last took
    waiter: asyncio.Future[None] | None = None  # while the stream waits

    def wake(self) -> None:
        """The stream has something to look at (a status, an error, the server closing)."""
        self.woken = True
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def wait(self) -> asyncio.Future[None]:
        """A future done once woken (at once when it already was): no coroutine of its own."""
        waiter = asyncio.get_running_loop().create_future()
        if self.woken:
            waiter.set_result(None)
        else:
            self.waiter = waiter
        return waiter

    def take(self) -> QueueStatus | None:
        """The status to send now, or None when nothing is waiting."""
        latest, self.latest = self.latest, None
        self.woken = False
        if latest is not None:
            self.sent = latest
        return latest


class Leaves:
    """The places of the leaves a pulse brought, by the seq a watcher has seen up to."""

    def __init__(self, pulse: Pulse, after: int) -> None:
        seqs = [leave.seq for leave in pulse.leaves]
        self.complete = seqs == list(range(after + 1, pulse.left_seq + 1))
        self.tokens = {leave.token for leave in pulse.leaves}
        self._pulse = pulse
        self._places: dict[int, list[int]] = {}

    def ahead_of(self, place: int, seen: int) -> int:
        """Leaves after seq `seen` of people ahead of `place`."""
        places = self._places.get(seen)
        if places is None:
            places = sorted(x.place for x in self._pulse.leaves if x.seq > seen)
            self._places[seen] = places
        return bisect_left(places, place)


def worth_sending(watcher: Watcher, status: QueueStatus, now: float) -> bool:
    """A first or final status, a change of status or event state, a move that matters, the
    stream's next message is due, or a newer status than the one still waiting to go."""
    sent = watcher.sent
    if sent is None or watcher.latest is not None or is_final(status) or now >= watcher.due:
        return True
    if (sent.status, sent.event_state) != (status.status, status.event_state):
        return True
    before, after = sent, status
    return moved_enough(
        before.position, after.position, before.estimated_wait_seconds, after.estimated_wait_seconds
    )


def needs_read(watcher: Watcher, pulse: Pulse, leaves: Leaves, now_ms: int) -> bool:
    """Whether the pulse cannot say what became of this watcher: read them from Redis."""
    record = watcher.record
    return (
        watcher.stale
        or (pulse.popped > 0 and record.place <= pulse.head)
        or watcher.token in leaves.tokens
        or (not leaves.complete and record.left_seq < pulse.left_seq)
        or watcher.read_at_ms < pulse.opens_at_ms <= now_ms
    )


def unchanged(pulse: Pulse | None, last: tuple[Pulse, int] | None) -> bool:
    """Whether nothing moved since the last full beat (`last`: its pulse and time): no place,
    leave, admission, state or rate, and the event had opened by then (a wait that counts
    down to the opening changes with the clock alone)."""
    if pulse is None or last is None or pulse.leaves:
        return False
    before, at_ms = last
    return pulse == before and pulse.opens_at_ms <= at_ms


def keep_alive(watchers: list[Watcher], now: float) -> None:
    """Nothing moved: the streams whose next message is due hear what they were last sent."""
    for w in watchers:
        if w.sent is not None and w.latest is None and now >= w.due:
            w.latest = w.sent
            w.wake()


def newer_than(record: SessionRecord, pulse: Pulse) -> bool:
    """A record read after the pulse: the pulse has nothing to tell it."""
    return record.popped > pulse.popped or record.left_seq > pulse.left_seq


def followed(record: SessionRecord, pulse: Pulse, leaves: Leaves) -> SessionRecord:
    """The record of a person still waiting, brought up to this pulse."""
    rank = (record.rank or 0) - (pulse.popped - record.popped)
    rank -= leaves.ahead_of(record.place, record.left_seq)
    return replace(
        record,
        status=Status.SOLD_OUT if pulse.sold_out else record.status,
        rank=max(rank, 0),
        queue_length=pulse.waiting,
        opens_at_ms=pulse.opens_at_ms,
        batch_size=pulse.batch_size,
        recent_admissions=pulse.recent_admissions,
        rate_window_ms=pulse.rate_window_ms,
        state=pulse.state,
        popped=pulse.popped,
        left_seq=pulse.left_seq,
    )
