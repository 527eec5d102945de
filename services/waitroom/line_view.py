"""An event's line as one serving process keeps it in memory, so that a waiting person's status
read costs no Redis round trip (lines.py keeps it up to date, one call per half interval).

The line's places are those of lua/lib.lua: early joiners hold lottery places below LOTTERY in
16,384 buckets, later joiners LOTTERY + their join sequence, 64 to a bucket. The view keeps the
number of people in every bucket (a Fenwick tree, for the people in earlier buckets) and every
place of the first buckets (the frontier), so a position is exact at the front of the line and,
further back, off by less than the people in one bucket.
"""

from bisect import bisect_left
from dataclasses import dataclass, field

from waitroom.models import EventState, Leave, SessionRecord, Status

LOTTERY = 2**40
LOTTERY_BUCKETS = 16384
LOTTERY_SPAN = 2**26  # places per lottery bucket
PER_BUCKET = 64  # later joiners per bucket


def bucket_of(place: int) -> int:
    if place < LOTTERY:
        return place // LOTTERY_SPAN
    return LOTTERY_BUCKETS + (place - LOTTERY) // PER_BUCKET


def span_of(bucket: int) -> tuple[int, int]:
    """The places bucket `bucket` holds: [low, high)."""
    if bucket < LOTTERY_BUCKETS:
        return bucket * LOTTERY_SPAN, (bucket + 1) * LOTTERY_SPAN
    low = LOTTERY + (bucket - LOTTERY_BUCKETS) * PER_BUCKET
    return low, low + PER_BUCKET


@dataclass(frozen=True, slots=True)
class LinePulse:
    """One read of an event's line (lua/line.lua)."""

    state: EventState
    sold_out: bool
    head: int  # places up to it were taken from the line
    popped: int
    waiting: int
    opens_at_ms: int
    batch_size: int
    left_seq: int
    seq: int  # joins after the opening so far: the last holds place LOTTERY + seq
    recent_admissions: int
    rate_window_ms: int
    leaves: tuple[Leave, ...]
    frontier: dict[int, list[int]]  # bucket -> its places, sorted: the front of the line
    frontier_end: int  # the frontier's last bucket; -1 when it holds the whole line
    counts: dict[int, int] | None = None  # every bucket's count, when asked for


class Fenwick:
    """Counts per bucket, with the sum of those before a bucket in O(log n)."""

    def __init__(self, size: int = 1024) -> None:
        self._tree = [0] * (size + 1)

    def add(self, index: int, delta: int) -> None:
        if index + 1 >= len(self._tree):
            self._grow(index + 1)
        i, tree = index + 1, self._tree
        while i < len(tree):
            tree[i] += delta
            i += i & -i

    def before(self, index: int) -> int:
        """The sum over buckets [0, index)."""
        i, total, tree = min(index, len(self._tree) - 1), 0, self._tree
        while i > 0:
            total += tree[i]
            i -= i & -i
        return total

    def _grow(self, needed: int) -> None:
        size = len(self._tree) - 1
        while size < needed:
            size *= 2
        old = [self.before(i + 1) - self.before(i) for i in range(len(self._tree) - 1)]
        self._tree = [0] * (size + 1)
        for index, count in enumerate(old):
            if count:
                self.add(index, count)


@dataclass(slots=True, eq=False)
class LineView:
    """What this process knows of one event's line, as of its last pulse."""

    event_id: str
    pulse: LinePulse | None = None
    ranked: bool = False  # counts are exact: a snapshot after the opening, kept up since
    left: dict[str, int] = field(default_factory=dict)  # token -> when it left (ms)
    gone: set[str] = field(default_factory=set)  # tokens presence found no longer waiting
    pulsed_at_ms: int = 0
    used_at_ms: int = 0
    _counts: dict[int, int] = field(default_factory=dict)
    _tree: Fenwick = field(default_factory=Fenwick)
    _low: int = 0  # no one waits in a bucket below it
    _total: int = 0

    @property
    def left_seq(self) -> int:
        return 0 if self.pulse is None else self.pulse.left_seq

    def needs_counts(self, now_ms: int) -> bool:
        """Whether the next pulse must bring every bucket's count (a snapshot)."""
        return not self.ranked and (self.pulse is None or now_ms >= self.pulse.opens_at_ms)

    def apply(self, pulse: LinePulse, now_ms: int) -> bool:
        """Brings the view up to this pulse; False when it cannot (a gap, counts that do not
        add up): the next pulse must then be a snapshot."""
        before, self.pulse, self.pulsed_at_ms = self.pulse, pulse, now_ms
        for leave in pulse.leaves:
            self.left[leave.token] = now_ms
        if pulse.counts is not None:
            self._reset(pulse.counts)
            self.ranked = now_ms >= pulse.opens_at_ms
        elif self.ranked and before is not None:
            if not _complete(pulse.leaves, before.left_seq, pulse.left_seq):
                return self._lost()
            for seq in range(before.seq + 1, pulse.seq + 1):
                self._add(bucket_of(LOTTERY + seq), 1)
            for leave in pulse.leaves:
                self._add(bucket_of(leave.place), -1)
        if self.ranked:
            self._front(pulse)
            if not pulse.sold_out and self._total != pulse.waiting:
                return self._lost()
        return True

    def record(self, token: str, place: int, now_ms: int) -> SessionRecord | None:
        """The waiting person's record, or None when it may have changed: read it from Redis."""
        pulse = self.pulse
        if pulse is None or token in self.left or token in self.gone or place <= pulse.head:
            return None
        status, rank = Status.QUEUED, None
        if pulse.sold_out:
            status = Status.SOLD_OUT
        elif now_ms >= pulse.opens_at_ms:  # before the opening no position is shown
            rank = self.rank(place)
            if rank is None:
                return None
        return SessionRecord(
            status=status,
            user_id="",
            admitted_at_ms=0,
            expires_at_ms=0,
            rank=rank,
            queue_length=pulse.waiting,
            opens_at_ms=pulse.opens_at_ms,
            batch_size=pulse.batch_size,
            recent_admissions=pulse.recent_admissions,
            rate_window_ms=pulse.rate_window_ms,
            state=pulse.state,
            place=place,
            popped=pulse.popped,
            left_seq=pulse.left_seq,
        )

    def rank(self, place: int) -> int | None:
        """0-based: the people ahead of `place`; None when the view has no such person."""
        pulse, bucket = self.pulse, bucket_of(place)
        if pulse is None or not self.ranked:
            return None
        members = pulse.frontier.get(bucket)
        if members is not None:
            i = bisect_left(members, place)
            if i == len(members) or members[i] != place:
                return None  # not in line any more
            return self._tree.before(bucket) + i
        count = self._counts.get(bucket, 0)
        if count == 0 or pulse.frontier_end < 0 or bucket <= pulse.frontier_end:
            return None  # an empty bucket, or one at the front that does not hold it
        low, high = span_of(bucket)
        high = min(high, LOTTERY + pulse.seq + 1) if bucket >= LOTTERY_BUCKETS else high
        within = count * (place - low) // max(high - low, 1)
        return self._tree.before(bucket) + min(max(within, 0), count - 1)

    def forget_left(self, older_than_ms: int) -> None:
        for token in [t for t, at in self.left.items() if at < older_than_ms]:
            del self.left[token]

    def _reset(self, counts: dict[int, int]) -> None:
        self._counts, self._tree, self._low, self._total = {}, Fenwick(), 0, 0
        for bucket, count in counts.items():
            if count:
                self._add(bucket, count)

    def _front(self, pulse: LinePulse) -> None:
        """The frontier is exact: nobody waits before its first bucket, and its buckets hold
        the places it lists. (Counts that drifted after it show in the total.)"""
        first = min(pulse.frontier, default=None)
        end = first if first is not None else max(self._counts, default=-1) + 1
        for bucket in range(self._low, end):
            count = self._counts.get(bucket)
            if count:
                self._add(bucket, -count)
        self._low = max(self._low, end)
        for bucket, members in pulse.frontier.items():
            self._add(bucket, len(members) - self._counts.get(bucket, 0))

    def _add(self, bucket: int, delta: int) -> None:
        if delta == 0:
            return
        count = self._counts.get(bucket, 0) + delta
        if count:
            self._counts[bucket] = count
        else:
            self._counts.pop(bucket, None)
        self._total += delta
        self._tree.add(bucket, delta)

    def _lost(self) -> bool:
        self.ranked = False
        return False


def _complete(leaves: tuple[Leave, ...], after: int, upto: int) -> bool:
    return [leave.seq for leave in leaves] == list(range(after + 1, upto + 1))
