"""The hub's shortcut: a watcher the pulse cannot tell anything worth sending is passed over
without following their place. The shortcut must never hide an update the full walk sends."""

import random
from dataclasses import replace

from tests.unit.fakes import DEFAULTS, FakeQueueStore, FakeSigner
from tests.unit.test_watch import LOTTERY, SESSION, pulse, waiting, watcher
from waitroom.models import EventState, Leave
from waitroom.service import QueueService
from waitroom.watch_line import Leaves, followed, pulse_rate, quiet, worth_sending

QUEUE = QueueService(FakeQueueStore(), FakeSigner(), DEFAULTS, lambda: 1_000)
INTERVAL = DEFAULTS.process_interval_seconds


def sent_watcher(rank, popped=10, left_seq=0, recent=0, window=0):
    """A watcher sent the status of its record, due at t=100."""
    rec = replace(
        waiting(rank=rank, place=LOTTERY + 10 + rank + 1, popped=popped, left_seq=left_seq)
    )
    rec = replace(rec, recent_admissions=recent, rate_window_ms=window)
    w = watcher(rec)
    w.sent, w.due, w.mark = QUEUE.describe(SESSION, "concert", rec), 100.0, (popped, left_seq)
    return w


def is_quiet(w, now_pulse, now=50.0):
    leaves = Leaves(now_pulse, w.record.left_seq)
    return quiet(w, now_pulse, leaves, pulse_rate(now_pulse, INTERVAL), now)


def test_far_back_a_small_move_is_quiet_and_a_large_one_or_anything_else_is_not():
    w = sent_watcher(rank=5_000)
    assert is_quiet(w, pulse(popped=110))  # a hundred places: under a twentieth of 5,000
    assert not is_quiet(w, pulse(popped=400))  # 390 places: that matters
    assert not is_quiet(w, pulse(popped=110), now=100.0)  # the stream is due
    assert not is_quiet(w, pulse(popped=110, state=EventState.PAUSED))
    assert not is_quiet(w, pulse(popped=110, sold_out=True))
    left = pulse(popped=110, left_seq=1, leaves=(Leave(1, LOTTERY + 9_000, w.token),))
    assert not is_quiet(w, left)  # they left on another replica
    gap = pulse(popped=110, left_seq=3, leaves=(Leave(3, LOTTERY + 20, "x"),))
    assert not is_quiet(w, gap)
    assert not is_quiet(sent_watcher(rank=150), pulse(popped=20))  # near the front
    faster = pulse(popped=110, recent_admissions=500, rate_window_ms=10_000)
    assert not is_quiet(w, faster)  # the wait fell from 500 s to about 100 s


def test_whenever_the_shortcut_passes_a_watcher_over_the_full_walk_would_send_nothing():
    """Random lines and pulses: quiet implies not worth sending once followed."""
    chance = random.Random(16)
    passed_over = 0
    for _ in range(20_000):
        rank = chance.choice((chance.randrange(90, 400), chance.randrange(400, 200_000)))
        recent, window = chance.choice(((0, 0), (chance.randrange(1, 5_000), 10_000)))
        w = sent_watcher(rank, popped=10, left_seq=0, recent=recent, window=window)
        taken, left = chance.randrange(0, rank // 10 + 2), chance.randrange(0, 30)
        places = [LOTTERY + chance.randrange(11, 2 * rank + 20) for _ in range(left)]
        leaves = tuple(Leave(i + 1, place, f"t{i}") for i, place in enumerate(places))
        rate = chance.choice(((recent, window), (chance.randrange(1, 5_000), 10_000)))
        now_pulse = pulse(
            popped=10 + taken,
            head=LOTTERY + 10 + taken,
            left_seq=left,
            leaves=leaves,
            recent_admissions=rate[0],
            rate_window_ms=rate[1],
        )
        if not is_quiet(w, now_pulse):
            continue
        passed_over += 1
        moved = followed(w.record, now_pulse, Leaves(now_pulse, 0))
        assert not worth_sending(w, QUEUE.describe(SESSION, "concert", moved), 50.0), (
            rank,
            taken,
            left,
            rate,
        )
    assert passed_over > 2_000  # the shortcut is taken often enough to matter
