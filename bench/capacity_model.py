"""What a sale needs, from measured costs and the sale's shape: pure arithmetic, no I/O.

Redis costs are CPU microseconds of one primary's redis-server per operation (bench/capacity.py);
serving and checkout costs are CPU microseconds of a Python process per call or person
(bench/run.py's full run). Every process and primary is planned at a share of one core,
`Budget`, so bursts, replication and AOF rewrites have room.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

# Kafka topics and who consumes them (DESIGN.md), for the partition counts
JOINED, READY, COMPLETED = "QUEUE_JOINED", "QUEUE_READY", "CHECKOUT_COMPLETED"


@dataclass(frozen=True, slots=True)
class Costs:
    join_us: float  # Redis, per call
    status_us: float
    leave_us: float
    admit_us: float  # per person admitted
    finish_us: float
    hold_us: float
    purchase_us: float
    stats_us: float  # per Kafka message applied
    serve_join_us: float  # serving process CPU per JoinQueue
    serve_status_us: float  # per GetQueueStatus (or a pushed update)
    checkout_us: float  # checkout CPU per admitted person (QUEUE_READY, hold, purchase calls)
    stats_consumer_us: float  # stats CPU per person (every message about them)
    partition_msgs_s: float  # messages a second one partition takes (one producer, acks=all)
    bytes_waiting: float  # Redis bytes per person in line
    bytes_admitted: float  # per admitted session and hold
    bytes_stats: float  # per person, for the whole sale


@dataclass(frozen=True, slots=True)
class Budget:
    redis_share: float = 0.5  # of a primary's core: the replica stream, AOF rewrite forks
    process_share: float = 0.7  # of a core, per serving, checkout or stats process
    partition_share: float = 0.5
    primary_bytes: float = 25e9  # maxmemory of one primary
    min_replicas: int = 2  # of every service, for availability


class Reads(StrEnum):
    """How a waiting person learns their place."""

    POLL = "poll"  # today: every GetQueueStatus is a status script call in Redis
    VIEW = "view"  # issue 16: polls answered from each serving process's view of the line
    PUSH = "push"  # issue 16: WatchQueueStatus streams, fed from the same view


VIEW_MISS = 0.01  # issue 16's bound: Redis calls per status read answered from the view


@dataclass(frozen=True, slots=True)
class Sale:
    people: int
    arrival_s: float = 600.0
    poll_s: float = 5.0  # a person's status reads (polled) or updates (pushed) are this apart
    reads: Reads = Reads.POLL
    admissions_s: float = 100.0
    buy_share: float = 0.8  # of the admitted, those who buy
    leave_share: float = 0.1  # of the people, those who leave the line
    serving_tick_s: float = 1.0  # with push: each serving process reads an event's head this often


@dataclass(frozen=True, slots=True)
class Plan:
    joins_s: float
    peak_waiting: float
    status_s: float  # Redis status reads a second
    slot_us_s: dict[str, float]  # Redis microseconds a second, by service (all in the slot)
    slot_load: float  # of the budget of one primary
    line_shards: int  # slots the waitroom's line needs
    redis_primaries: int
    memory_bytes: float
    serving_processes: int
    checkout_replicas: int
    stats_replicas: int
    partitions: dict[str, int]

    @property
    def one_slot_suffices(self) -> bool:
        return self.slot_load <= 1.0


def peak_waiting(sale: Sale) -> float:
    """People in line when the last has arrived (arrivals spread evenly over the window)."""
    return max(sale.people - sale.admissions_s * sale.arrival_s, 0.0)


def status_reads(sale: Sale, serving: int) -> float:
    """Redis status reads a second at the peak of the line. Polled: one a read. From a view:
    a read in VIEW_MISS, each serving process's refresh of the view, and one for every person
    admitted (their own state changed). Pushed: the refreshes and the admitted."""
    polls = peak_waiting(sale) / sale.poll_s
    if sale.reads is Reads.POLL:
        return polls
    changed = serving / sale.serving_tick_s + sale.admissions_s
    return changed + (polls * VIEW_MISS if sale.reads is Reads.VIEW else 0.0)


def slot_us(sale: Sale, costs: Costs, serving: int) -> dict[str, float]:
    joins = sale.people / sale.arrival_s
    leaves = joins * sale.leave_share
    admit, buy = sale.admissions_s, sale.admissions_s * sale.buy_share
    messages = joins + leaves + admit + buy  # JOINED, LEFT, READY, COMPLETED, all to stats
    return {
        "waitroom": joins * costs.join_us
        + status_reads(sale, serving) * costs.status_us
        + leaves * costs.leave_us
        + admit * costs.admit_us
        + buy * costs.finish_us,
        "checkout": admit * costs.hold_us + buy * costs.purchase_us,
        "stats": messages * costs.stats_us,
    }


def processes(work_us_s: float, budget: Budget) -> int:
    return max(math.ceil(work_us_s / (1e6 * budget.process_share)), budget.min_replicas)


def serving_processes(sale: Sale, costs: Costs, budget: Budget) -> int:
    """A poll answered from a view, and a pushed update, are costed as today's status call:
    an upper bound until issue 16 measures them."""
    joins = sale.people / sale.arrival_s
    updates = peak_waiting(sale) / sale.poll_s
    return processes(joins * costs.serve_join_us + updates * costs.serve_status_us, budget)


def partitions(rate_s: float, consumers: int, costs: Costs, budget: Budget) -> int:
    """Enough for the rate, and one for each consumer, so that none of them idles."""
    by_rate = math.ceil(rate_s / (costs.partition_msgs_s * budget.partition_share))
    return max(by_rate, consumers, 1)


def memory(sale: Sale, costs: Costs) -> float:
    """What the event's slot holds when the last person has arrived."""
    admitted = min(sale.admissions_s * sale.arrival_s, sale.people)
    return (
        peak_waiting(sale) * costs.bytes_waiting
        + admitted * costs.bytes_admitted
        + sale.people * costs.bytes_stats
    )


def plan(sale: Sale, costs: Costs, budget: Budget | None = None) -> Plan:
    budget = budget or Budget()
    serving = serving_processes(sale, costs, budget)
    by_service = slot_us(sale, costs, serving)
    primary_us = 1e6 * budget.redis_share
    total = sum(by_service.values())
    joins = sale.people / sale.arrival_s
    checkout = processes(sale.admissions_s * costs.checkout_us, budget)
    stats = processes(joins * costs.stats_consumer_us, budget)
    stored = memory(sale, costs)
    return Plan(
        joins_s=joins,
        peak_waiting=peak_waiting(sale),
        status_s=status_reads(sale, serving),
        slot_us_s=by_service,
        slot_load=total / primary_us,
        line_shards=max(math.ceil(by_service["waitroom"] / primary_us), 1),
        redis_primaries=max(
            math.ceil(total / primary_us), math.ceil(stored / budget.primary_bytes)
        ),
        memory_bytes=stored,
        serving_processes=serving,
        checkout_replicas=checkout,
        stats_replicas=stats,
        partitions={
            JOINED: partitions(joins, stats, costs, budget),
            READY: partitions(sale.admissions_s, max(checkout, stats), costs, budget),
            COMPLETED: partitions(sale.admissions_s * sale.buy_share, stats, costs, budget),
        },
    )


def largest_on_one_slot(
    sale_of: Callable[[int], Sale], costs: Costs, budget: Budget | None = None
) -> int:
    """The most people whose sale, shaped by `sale_of(people)`, one primary carries."""

    def fits(people: int) -> bool:
        return plan(sale_of(people), costs, budget).one_slot_suffices

    low, high = 0, 1
    while fits(high) and high < 10**10:
        low, high = high, high * 2
    while high - low > max(low // 1000, 1):
        middle = (low + high) // 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    return low
