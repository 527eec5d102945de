import pytest

from common.kafka.records import PoisonMessageError
from stats.consumer import change_of
from stats.repository import RawFigures
from stats.service import derive


def raw(**counts):
    base = dict.fromkeys(("joined", "admitted", "completed", "expired", "cancelled", "left"), 0)
    return RawFigures(
        counts={**base, **counts},
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
