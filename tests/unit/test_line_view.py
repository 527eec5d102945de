"""A serving process's view of a line, without servers: followed through joins, leaves and
admissions against a model of the line, as lua/line.lua would report them, and the seal that
carries a person's place in their session id."""

import random
from bisect import bisect_left

import pytest

from common.tokens.ids import (
    InvalidIdError,
    make_session_id,
    parse_sealed_session_id,
    parse_session_id,
)
from common.tokens.seal import PlaceSeal
from waitroom.line_view import LOTTERY, Fenwick, LinePulse, LineView, bucket_of
from waitroom.models import EventState, Leave, Status

EXACT = 100
TOKEN = "B" * 22


class Line:
    """The line as Redis holds it: places -> tokens, and what line.lua would return."""

    def __init__(self, opens_at_ms: int = 0) -> None:
        self.places: dict[int, str] = {}
        self.head = self.popped = self.seq = 0
        self.feed: list[Leave] = []
        self.opens_at_ms = opens_at_ms

    def join(self, early: bool = False) -> int:
        if early:
            place = random.randrange(LOTTERY)
        else:
            self.seq += 1
            place = LOTTERY + self.seq
        self.places[place] = f"t{place}"
        return place

    def leave(self, place: int) -> None:
        token = self.places.pop(place)
        self.feed.append(Leave(len(self.feed) + 1, place, token))

    def admit(self, n: int) -> None:
        for place in sorted(self.places)[:n]:
            del self.places[place]
            self.head, self.popped = place, self.popped + 1

    def rank(self, place: int) -> int:
        return bisect_left(sorted(self.places), place)

    def pulse(self, after: int, counts: bool) -> LinePulse:
        frontier: dict[int, list[int]] = {}
        end, covered = -1, 0
        for place in sorted(self.places):
            bucket = bucket_of(place)
            if bucket not in frontier and covered >= EXACT:
                end = max(frontier)
                break
            frontier.setdefault(bucket, []).append(place)
            covered += 1
        if end < 0 and covered >= EXACT:  # the last bucket listed fills the frontier
            end = max(frontier)
        per_bucket: dict[int, int] = {}
        for place in self.places:
            per_bucket[bucket_of(place)] = per_bucket.get(bucket_of(place), 0) + 1
        return LinePulse(
            state=EventState.OPEN,
            sold_out=False,
            head=self.head,
            popped=self.popped,
            waiting=len(self.places),
            opens_at_ms=self.opens_at_ms,
            batch_size=10,
            left_seq=len(self.feed),
            seq=self.seq,
            recent_admissions=0,
            rate_window_ms=0,
            leaves=tuple(leave for leave in self.feed if leave.seq > after),
            frontier=frontier,
            frontier_end=end,
            counts=per_bucket if counts else None,
        )


def follow(view: LineView, line: Line, now_ms: int = 1) -> None:
    pulse = line.pulse(view.left_seq, view.needs_counts(now_ms))
    if not view.apply(pulse, now_ms):
        assert view.apply(line.pulse(view.left_seq, True), now_ms)


def check(view: LineView, line: Line) -> tuple[int, int]:
    """Every waiting person's rank against the line's; returns (exact, estimated) counts."""
    exact = estimated = 0
    pulse = view.pulse
    assert pulse is not None
    ordered = sorted(line.places)
    per_bucket: dict[int, int] = {}
    for place in ordered:
        per_bucket[bucket_of(place)] = per_bucket.get(bucket_of(place), 0) + 1
    for true_rank, place in enumerate(ordered):
        got = view.rank(place)
        assert got is not None, place
        bucket = bucket_of(place)
        if bucket in pulse.frontier:
            assert got == true_rank
            exact += 1
        else:
            assert abs(got - true_rank) < per_bucket[bucket]
            estimated += 1
    return exact, estimated


def test_ranks_are_exact_at_the_front_and_within_a_bucket_behind_through_a_sale():
    random.seed(7)
    line, view = Line(), LineView("concert")
    taken: list[int] = []
    for _round in range(40):
        for _ in range(random.randrange(0, 300)):
            line.join()
        for place in random.sample(sorted(line.places), min(len(line.places), 20)):
            line.leave(place)
        before = set(line.places)
        line.admit(random.randrange(0, 60))
        taken += sorted(before - set(line.places))
        follow(view, line)
        exact, _ = check(view, line)
        assert exact >= min(EXACT, len(line.places))
    for place in taken[-50:]:  # taken from the line: read from Redis
        assert view.record(f"t{place}", place, 1) is None
    for leave in line.feed[-20:]:
        assert view.record(leave.token, leave.place, 1) is None


def test_early_joiners_get_no_rank_before_the_opening_and_an_exact_one_at_the_front_after():
    random.seed(11)
    line, view = Line(opens_at_ms=1_000), LineView("concert")
    for _ in range(3000):
        line.join(early=True)
    follow(view, line, now_ms=500)
    someone = next(iter(line.places))
    record = view.record(line.places[someone], someone, 500)
    assert record is not None
    assert (record.rank, record.status) == (None, Status.QUEUED)
    for _ in range(100):
        line.join()
    follow(view, line, now_ms=1_000)  # the opening: a snapshot of every bucket's count
    assert view.ranked
    exact, estimated = check(view, line)
    assert exact >= EXACT
    assert estimated > 0


def test_a_join_the_view_could_not_see_is_found_by_the_total_and_mended_by_a_snapshot():
    random.seed(5)
    line, view = Line(), LineView("concert")
    for _ in range(3000):
        line.join(early=True)
    follow(view, line)
    while bucket_of(line.join(early=True)) <= line.pulse(0, False).frontier_end:
        pass  # a lottery place after the opening (a skewed clock), behind the frontier
    assert not view.apply(line.pulse(view.left_seq, False), 2)
    assert view.needs_counts(2)
    assert view.apply(line.pulse(view.left_seq, True), 2)
    check(view, line)


def test_a_gap_in_the_leaves_takes_a_snapshot():
    line, view = Line(), LineView("concert")
    for _ in range(500):
        line.join()
    follow(view, line)
    for place in sorted(line.places)[200:203]:
        line.leave(place)
    gappy = line.pulse(view.left_seq, False)
    gappy = LinePulse(**{**{f: getattr(gappy, f) for f in gappy.__slots__}, "leaves": ()})
    assert not view.apply(gappy, 2)
    assert view.rank(sorted(line.places)[300]) is None  # until the snapshot: read from Redis


def test_the_fenwick_tree_sums_what_was_added_as_it_grows():
    random.seed(3)
    tree, counts = Fenwick(8), [0] * 5000
    for _ in range(3000):
        i, delta = random.randrange(5000), random.choice((1, 1, 2, -1))
        tree.add(i, delta)
        counts[i] += delta
    for i in (0, 1, 7, 8, 100, 4999, 5000, 9000):
        assert tree.before(i) == sum(counts[:i])


def test_a_seal_opens_only_for_its_token_and_key():
    seal = PlaceSeal(b"k" * 32)
    sealed = seal.seal(TOKEN, LOTTERY + 12345)
    assert len(sealed) == 22
    assert seal.open(TOKEN, sealed) == LOTTERY + 12345
    assert seal.seal(TOKEN, LOTTERY + 12345) == sealed  # the same session id on a rejoin
    assert seal.open("C" * 22, sealed) is None
    assert PlaceSeal(b"x" * 32).open(TOKEN, sealed) is None
    flipped = ("A" if sealed[3] != "A" else "B").join((sealed[:3], sealed[4:]))
    assert seal.open(TOKEN, flipped) is None
    assert seal.open(TOKEN, "not base64 at all!!") is None


def test_a_sealed_session_id_parses_to_its_canonical_parts():
    sealed = make_session_id("concert.2027", TOKEN, "s" * 22)
    assert sealed == f"concert.2027~{TOKEN}.{'s' * 22}"
    assert parse_sealed_session_id(sealed) == ("concert.2027", TOKEN, "s" * 22)
    assert parse_session_id(sealed) == ("concert.2027", TOKEN)
    assert parse_sealed_session_id(f"concert~{TOKEN}") == ("concert", TOKEN, "")
    for bad in (f"concert~{TOKEN}.", f"concert~{TOKEN}.short", f"concert~{TOKEN}.{'s' * 23}"):
        with pytest.raises(InvalidIdError):
            parse_sealed_session_id(bad)
