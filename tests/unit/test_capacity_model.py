"""The capacity model's arithmetic, on round numbers worked out by hand."""

import dataclasses

import pytest

from bench.capacity_model import (
    COMPLETED,
    JOINED,
    READY,
    Budget,
    Costs,
    Reads,
    Sale,
    largest_on_one_slot,
    peak_waiting,
    plan,
    status_reads,
)
from bench.capacity_plan import SERVING_FALLBACK, costs_of, sale_for

COSTS = Costs(
    join_us=10,
    status_us=100,
    leave_us=10,
    admit_us=10,
    finish_us=10,
    hold_us=10,
    purchase_us=10,
    stats_us=10,
    serve_join_us=500,
    serve_status_us=500,
    checkout_us=1000,
    stats_consumer_us=200,
    partition_msgs_s=10_000,
    bytes_waiting=100,
    bytes_admitted=1000,
    bytes_stats=1000,
)
# 1,000 joins a second for 600 s; 100 admitted a second, half of them buy
SALE = Sale(people=600_000, admissions_s=100, buy_share=0.5, leave_share=0.1)


def test_the_line_peaks_at_everyone_less_those_admitted_while_they_arrived():
    assert peak_waiting(SALE) == 540_000
    assert peak_waiting(dataclasses.replace(SALE, admissions_s=2000)) == 0


def test_polling_reads_redis_once_a_poll_of_everyone_waiting():
    assert status_reads(SALE, serving=78) == 108_000


def test_a_view_and_pushed_updates_read_redis_per_process_and_per_admission():
    push = dataclasses.replace(SALE, reads=Reads.PUSH)
    view = dataclasses.replace(SALE, reads=Reads.VIEW)
    assert status_reads(push, serving=78) == 78 + 100
    assert status_reads(view, serving=78) == pytest.approx(78 + 100 + 108_000 * 0.01)


def test_polling_puts_the_slot_far_past_one_primary():
    p = plan(SALE, COSTS)
    # joins 10,000 + polls 10,800,000 + leaves 1,000 + admissions 1,000 + outcomes 500 us/s
    assert p.slot_us_s["waitroom"] == pytest.approx(10_812_500)
    assert p.slot_us_s["checkout"] == pytest.approx(1_500)
    assert p.slot_us_s["stats"] == pytest.approx(12_500)  # 1,250 messages a second
    assert p.slot_load == pytest.approx(10_826_500 / 500_000)
    assert not p.one_slot_suffices
    assert p.line_shards == 22
    assert p.redis_primaries == 22


def test_processes_are_the_cpu_over_the_planned_share_of_a_core_and_never_fewer_than_two():
    p = plan(SALE, COSTS)
    assert p.serving_processes == 78  # (1,000 x 500 + 108,000 x 500) / 700,000 = 77.9
    assert p.checkout_replicas == 2  # 100 x 1,000 us is 0.14 of a core
    assert p.stats_replicas == 2
    assert p.partitions == {JOINED: 2, READY: 2, COMPLETED: 2}


def test_partitions_follow_the_rate_when_it_outgrows_the_consumers():
    busy = dataclasses.replace(SALE, people=6_000_000)  # 10,000 joins a second
    p = plan(busy, COSTS, Budget(min_replicas=1))
    assert p.stats_replicas == 3  # 10,000 x 200 us / 700,000
    assert p.partitions[JOINED] == 3  # 10,000 / (10,000 x 0.5) = 2, but three consumers


def test_memory_counts_the_line_the_admitted_and_stats():
    p = plan(SALE, COSTS)
    assert p.memory_bytes == 540_000 * 100 + 60_000 * 1000 + 600_000 * 1000


def test_memory_beyond_one_primary_takes_more_primaries():
    p = plan(dataclasses.replace(SALE, reads=Reads.PUSH), COSTS, Budget(primary_bytes=100e6))
    assert p.one_slot_suffices
    assert p.redis_primaries == 8  # 714 MB over 100 MB primaries


def test_pushed_updates_keep_the_slot_within_one_primary():
    p = plan(dataclasses.replace(SALE, reads=Reads.PUSH), COSTS)
    assert p.slot_us_s["waitroom"] == pytest.approx(10_000 + 178 * 100 + 1_000 + 1_000 + 500)
    assert p.one_slot_suffices
    assert p.line_shards == 1


def test_the_largest_sale_on_one_slot_is_where_its_load_reaches_the_budget():
    joins_only = Costs(**{**dataclasses.asdict(COSTS), "status_us": 0, "stats_us": 0})
    joins_only = dataclasses.replace(
        joins_only, join_us=100, leave_us=0, admit_us=0, finish_us=0, hold_us=0, purchase_us=0
    )

    def sale_of(people: int) -> Sale:
        return Sale(people, reads=Reads.PUSH, admissions_s=0)

    # 100 us a join within half a core: 5,000 joins a second, 3,000,000 people in 600 s
    most = largest_on_one_slot(sale_of, joins_only)
    assert 2_997_000 <= most <= 3_000_000


def phase(script: str, cpu_us: float, people_per_call: float = 1.0) -> dict:
    return {"script": script, "cpu_us_per_call": cpu_us, "people_per_call": people_per_call}


def test_the_plan_takes_redis_cpu_per_person_from_the_capacity_bench_and_falls_back_on_serving():
    capacity = {
        "phases": [
            phase("join", 30),
            phase("status", 120),
            phase("leave", 35),
            phase("admit", 40_000, 1000),
            phase("finish", 15),
            phase("hold", 36),
            phase("purchase", 32),
            phase("apply", 1250, 50),
        ],
        "memory": {
            "bytes_per_waiting": 177,
            "bytes_per_admitted_session": 366,
            "bytes_per_hold": 550,
            "stats_bytes_per_person": 1250,
        },
    }
    costs = costs_of(capacity, bench=None)
    assert (costs.join_us, costs.status_us, costs.admit_us, costs.stats_us) == (30, 120, 40, 25)
    assert costs.serve_join_us == SERVING_FALLBACK["join"]
    assert costs.checkout_us == SERVING_FALLBACK["ready"] + 2 * SERVING_FALLBACK["join"]
    assert costs.bytes_admitted == 366 + 550


def test_the_planned_sales_admit_so_that_a_sixth_of_a_ticket_a_person_sells_in_half_an_hour():
    sale = sale_for(Reads.PUSH, 600_000)
    # 100,000 tickets, two a buyer, 80% of the admitted buy: 62,500 admitted in 1,800 s
    assert sale.admissions_s == pytest.approx(62_500 / 1800)
    assert (sale.people, sale.reads, sale.poll_s) == (600_000, Reads.PUSH, 5.0)
