from types import SimpleNamespace

import pytest

from common.kafka import topics
from common.kafka.messages import to_json
from common.kafka.records import PoisonMessageError
from stats.consumer import StatsHandler, change_of
from stats.models import Change, ChangeKind, Counts, RawFigures
from stats.service import LIVE_FOR_MS, StatsService, derive
from tests.unit.fakes import FakeStatsStore
from waitroomapi.events.v1 import events_pb2


def raw(**counts):
    return RawFigures(
        counts=Counts(**counts),
        tickets_total=100,
        tickets_sold=30,
        sold_out=False,
        waits_ms=(1000, 2000, 3000),
        checkout_ms=(500, 900, 990),
        admitted_last_minute=120,
    )


def test_figures_follow_from_the_counts():
    f = derive("e", raw(joined=100, admitted=60, completed=30, expired=10, cancelled=5, left=4))
    assert (f.queued_now, f.in_checkout_now, f.tickets_left) == (36, 15, 70)
    assert f.conversion_rate == pytest.approx(0.5)
    assert f.admission_rate_per_second == 2
    assert f.estimated_clear_seconds == 18
    assert f.wait_seconds == (1.0, 2.0, 3.0)


def test_at_sell_out_nobody_is_queued_and_the_rest_are_told():
    sold_out = RawFigures(
        counts=raw(joined=10, admitted=4).counts,
        tickets_total=4,
        tickets_sold=4,
        sold_out=True,
        waits_ms=(0, 0, 0),
        checkout_ms=(0, 0, 0),
        admitted_last_minute=0,
    )
    f = derive("e", sold_out)
    assert (f.queued_now, f.sold_out_in_line, f.estimated_clear_seconds) == (0, 6, 0)


@pytest.mark.parametrize(
    "value",
    [
        b"",
        b"\xff",
        b"[]",
        b'{"message_id": 1}',
        b'{"message_id": "m", "session_id": "x", "event_id": "e"}',
    ],
)
def test_garbage_is_poison(value):
    with pytest.raises(PoisonMessageError):
        change_of("QUEUE_JOINED", value)


async def test_a_batch_is_applied_through_the_service_and_its_poison_handed_back():
    store = FakeStatsStore()
    sold_out = events_pb2.EventSoldOut(message_id="m1", event_id="concert")
    good = SimpleNamespace(topic=topics.EVENT_SOLD_OUT, value=to_json(sold_out))
    bad = SimpleNamespace(topic=topics.QUEUE_JOINED, value=b"[]")
    poison = await StatsHandler(StatsService(store, lambda: 0))([good, bad])
    assert [record for record, _ in poison] == [bad]
    assert store.batches == [[Change(ChangeKind.SOLD_OUT, "concert")]]


async def test_only_events_a_message_reached_lately_have_their_gauges_refreshed():
    now = [0]
    store = FakeStatsStore(known=["old", "quiet", "busy"])
    stats = StatsService(store, lambda: now[0])
    assert await stats.live_events() == ["old", "quiet", "busy"]  # all, once, at the start
    assert await stats.live_events() == []  # nothing happened since
    await stats.apply([Change(ChangeKind.JOINED, "quiet")])
    now[0] = 60_000
    await stats.apply([Change(ChangeKind.JOINED, "busy"), Change(ChangeKind.READY, "busy")])
    assert sorted(await stats.live_events()) == ["busy", "quiet"]
    now[0] = LIVE_FOR_MS + 30_000  # quiet's last message is older than that now, busy's not
    assert await stats.live_events() == ["busy"]
    now[0] = LIVE_FOR_MS + 60_001
    assert await stats.live_events() == []
