"""The watch rules without servers: a place followed from the pulse, what is read from Redis,
what is worth sending, the cadence, and the hub's limits and shutdown."""

import asyncio
from dataclasses import replace

import pytest

from common.tokens.ids import make_session_id
from tests.unit.fakes import DEFAULTS, FakeQueueStore, FakeSigner, record
from waitroom.estimates import advice, cadence, moved_enough
from waitroom.models import EventState, Leave, Pulse, ShuttingDownError, Status, TooManyStreamsError
from waitroom.service import QueueService
from waitroom.watch import WatchConfig, WatchHub
from waitroom.watch_line import (
    Leaves,
    Watcher,
    followed,
    keep_alive,
    needs_read,
    unchanged,
    worth_sending,
)

TOKEN = "A" * 22
SESSION = make_session_id("concert", TOKEN)
LOTTERY = 2**40


def pulse(**fields) -> Pulse:
    values = dict(
        state=EventState.OPEN,
        sold_out=False,
        head=LOTTERY + 10,
        popped=10,
        waiting=90,
        opens_at_ms=0,
        batch_size=10,
        left_seq=0,
        recent_admissions=0,
        rate_window_ms=0,
    )
    return Pulse(**{**values, **fields})


def waiting(rank=49, place=LOTTERY + 60, popped=10, left_seq=0):
    return replace(record(rank=rank), place=place, popped=popped, left_seq=left_seq)


def watcher(rec=None) -> Watcher:
    return Watcher(SESSION, "concert", TOKEN, rec or waiting(), read_at_ms=1_000, touched_at=0.0)


def test_a_place_falls_by_the_places_taken_since_and_by_the_leaves_ahead():
    leaves = (Leave(1, LOTTERY + 30, "x"), Leave(2, LOTTERY + 90, "y"), Leave(3, LOTTERY + 40, "z"))
    now = pulse(popped=15, head=LOTTERY + 25, left_seq=3, leaves=leaves)
    after = followed(waiting(), now, Leaves(now, 0))
    assert after.rank == 49 - 5 - 2  # five taken, two of the three leaves were ahead
    assert (after.popped, after.left_seq, after.queue_length) == (15, 3, 90)


def test_leaves_already_seen_by_a_watcher_are_not_counted_again():
    leaves = (Leave(1, LOTTERY + 30, "x"), Leave(2, LOTTERY + 40, "z"))
    now = pulse(left_seq=2, leaves=leaves)
    assert followed(waiting(left_seq=1), now, Leaves(now, 0)).rank == 48


def test_a_watcher_is_read_when_the_head_passed_it_it_left_or_the_feed_has_a_gap():
    passed = pulse(popped=70, head=LOTTERY + 60)
    assert needs_read(watcher(), passed, Leaves(passed, 0), 2_000)
    left = pulse(left_seq=1, leaves=(Leave(1, LOTTERY + 60, TOKEN),))
    assert needs_read(watcher(), left, Leaves(left, 0), 2_000)
    gap = pulse(left_seq=3, leaves=(Leave(3, LOTTERY + 1, "x"),))
    assert not Leaves(gap, 0).complete
    assert needs_read(watcher(), gap, Leaves(gap, 0), 2_000)
    quiet = pulse()
    assert not needs_read(watcher(), quiet, Leaves(quiet, 0), 2_000)


def test_everyone_read_before_the_opening_is_read_again_after_it():
    opening = pulse(opens_at_ms=1_500)
    assert needs_read(watcher(), opening, Leaves(opening, 0), 2_000)
    assert not needs_read(watcher(), opening, Leaves(opening, 0), 1_400)


def test_sold_out_ends_a_waiting_person_in_sold_out():
    now = pulse(sold_out=True, waiting=0)
    assert followed(waiting(), now, Leaves(now, 0)).status is Status.SOLD_OUT


def status(queue, rec):
    return queue.describe(SESSION, "concert", rec)


def test_only_moves_that_matter_are_sent_before_the_stream_is_due():
    queue = QueueService(FakeQueueStore(), FakeSigner(), DEFAULTS, lambda: 1_000)
    w = watcher(waiting(rank=5_000))
    w.sent, w.due = status(queue, w.record), 100.0
    assert not worth_sending(w, status(queue, waiting(rank=4_990)), 50.0)
    assert worth_sending(w, status(queue, waiting(rank=4_000)), 50.0)
    assert worth_sending(w, status(queue, waiting(rank=4_990)), 100.0)  # due
    paused = replace(waiting(rank=4_990), state=EventState.PAUSED)
    assert worth_sending(w, status(queue, paused), 50.0)


def test_the_cadence_is_often_near_the_front_and_rarely_far_back():
    assert cadence(5, floor=1.0, ceiling=20.0) == 1.0
    assert cadence(100, floor=1.0, ceiling=20.0) == 10.0
    assert cadence(100_000, floor=1.0, ceiling=20.0) == 20.0
    assert advice(0, interval=0.05) == 1
    assert moved_enough(10, 9, 10, 9)  # near the front, every place
    assert not moved_enough(10_000, 9_900, 1_000, 990)


def hub(store=None, limit=2):
    queue = QueueService(store or FakeQueueStore(), FakeSigner(), DEFAULTS, lambda: 1_000)
    config = WatchConfig(
        interval=1.0, max_silence=20.0, presence_every=1.0, streams_per_session=limit
    )
    return WatchHub(queue, None, config, lambda: 1_000)  # type: ignore[arg-type]


async def test_a_stream_opens_with_the_status_at_once_and_a_session_opens_few():
    store = FakeQueueStore(sessions={TOKEN: waiting()})
    watch = hub(store)
    first, second = watch.watch(SESSION), watch.watch(SESSION)
    update = await anext(first)
    assert (update.status.position, update.final) == (50, False)
    assert 5 <= update.within_seconds <= 20  # a heartbeat: moves that matter go at once
    await anext(second)
    with pytest.raises(TooManyStreamsError):
        await anext(watch.watch(SESSION))
    await first.aclose()
    assert watch.open_streams() == 1
    await anext(watch.watch(SESSION))  # its place is free again


async def test_a_final_status_ends_the_stream_after_it():
    store = FakeQueueStore(sessions={TOKEN: record(status=Status.ADMITTED, rank=None)})
    stream = hub(store).watch(SESSION)
    update = await anext(stream)
    assert update.final
    assert update.status.checkout_token == f"token-for-{SESSION}"
    with pytest.raises(StopAsyncIteration):
        await anext(stream)


async def test_a_shutdown_ends_open_streams_and_refuses_new_ones():
    watch = hub(FakeQueueStore(sessions={TOKEN: waiting()}))
    stream = watch.watch(SESSION)
    await anext(stream)
    pending = asyncio.create_task(anext(stream))
    await asyncio.sleep(0)
    watch.shut()
    with pytest.raises(ShuttingDownError):
        await pending
    with pytest.raises(ShuttingDownError):
        await anext(watch.watch(SESSION))


class CountingStore(FakeQueueStore):
    reads = 0

    async def session(self, event_id, token, now_ms, ttl_s, touch=True):
        self.reads += 1
        return await super().session(event_id, token, now_ms, ttl_s, touch)


class FakePulses:
    def __init__(self, now: Pulse) -> None:
        self.now, self.touched = now, []

    async def pulse(self, event_id, after_left_seq, now_ms):
        return self.now

    async def touch(self, event_id, tokens, now_ms):
        self.touched.extend(tokens)
        return len(tokens)


async def test_the_hub_follows_a_place_from_the_pulse_and_reads_only_once_the_head_passed():
    store, pulses = CountingStore(sessions={TOKEN: waiting()}), FakePulses(pulse())
    queue = QueueService(store, FakeSigner(), DEFAULTS, lambda: 1_000)
    config = WatchConfig(interval=0.02, max_silence=20.0, presence_every=0.0, streams_per_session=3)
    watch = WatchHub(queue, pulses, config, lambda: 1_000)
    running = asyncio.create_task(watch.run())
    stream = watch.watch(SESSION)
    assert (await anext(stream)).status.position == 50
    pulses.now = pulse(popped=30)  # twenty more taken from the head
    assert (await anext(stream)).status.position == 30
    assert store.reads == 1  # the opening read only
    store.sessions[TOKEN] = record(status=Status.ADMITTED, rank=None)
    pulses.now = pulse(popped=70, head=LOTTERY + 60)  # the head passed: read once
    admitted = await anext(stream)
    assert admitted.final
    assert admitted.status.status is Status.ADMITTED
    assert store.reads == 2
    assert TOKEN in pulses.touched  # presence written in a batch, not per message
    watch.stop()
    await running


def test_a_pulse_like_the_last_full_beat_is_unchanged_unless_it_brings_leaves_or_an_opening():
    last = pulse(opens_at_ms=500)
    assert unchanged(pulse(opens_at_ms=500), (last, 1_000))
    assert not unchanged(pulse(opens_at_ms=500, popped=11), (last, 1_000))  # an admission
    assert not unchanged(
        pulse(opens_at_ms=500, leaves=(Leave(1, LOTTERY + 70, "x"),)), (last, 1_000)
    )
    assert not unchanged(pulse(opens_at_ms=5_000), (pulse(opens_at_ms=5_000), 1_000))  # not open
    assert not unchanged(pulse(), None)
    assert not unchanged(None, (last, 1_000))


def test_when_nothing_moved_only_the_streams_due_hear_again_what_they_were_sent():
    due, later, fresh = watcher(), watcher(), watcher()
    sent = QueueService(FakeQueueStore(), FakeSigner(), DEFAULTS, lambda: 1_000).describe(
        SESSION, "concert", waiting()
    )
    due.sent, due.due = sent, 10.0
    later.sent, later.due = sent, 30.0
    keep_alive([due, later, fresh], now=20.0)
    assert (due.woken, due.take()) == (True, sent)
    assert (later.woken, later.latest, fresh.woken) == (False, None, False)
