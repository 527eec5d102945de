"""`python -m bench.capacity_plan`: the capacity model's table for three sale sizes.

Redis costs come from the latest bench/results/capacity-*.json (`make bench-capacity`), the
serving, checkout, stats and Kafka figures from the latest full `make bench` JSON beside it.
"""

import functools
import json
import sys
from pathlib import Path
from typing import Any

from bench.capacity_model import Costs, Plan, Reads, Sale, largest_on_one_slot, plan

RESULTS = Path(__file__).parent / "results"
SIZES = (100_000, 1_000_000, 14_000_000)  # the last: the Eras Tour presale's count
TICKETS_PER_PERSON = 1 / 6  # about the Eras Tour presale's: 2.4 million tickets, 14 million
TICKETS_PER_BUYER = 2
SELL_OUT_S = 1800.0  # the admission rate is set so the tickets sell in half an hour
CHECKOUT_CALLS = 2  # a buyer's gRPC calls on checkout (hold, purchase), costed as a JoinQueue


# The full make bench's figures the model takes, from its 2026-12-01 23:50 run
# (bench/results/20261201-235026.json), for when no full run's JSON is at hand.
SERVING_FALLBACK = {
    "join": 562.0,  # the waitroom serving processes' CPU per JoinQueue, concurrency 100
    "status": 523.0,  # per GetQueueStatus
    "ready": 38.0,  # checkout's CPU per admitted person in the admission window
    "stats": 203.0,  # stats' CPU per person in the flash crowd
    "partition": 28_156.0,  # the plain producer's messages a second (one partition)
}


def latest(pattern: str) -> dict[str, Any] | None:
    found = sorted(RESULTS.glob(pattern))
    if not found:
        return None
    loaded: dict[str, Any] = json.loads(found[-1].read_text())
    loaded["file"] = found[-1].name
    return loaded


def redis_us(capacity: dict[str, Any]) -> dict[str, float]:
    """Redis's CPU per person (admit), message (apply) or call: its own time, reading and
    replying included. usec_per_call is wall time inside the script, which on a shared
    machine counts the moments the thread was preempted too."""
    return {p["script"]: p["cpu_us_per_call"] / p["people_per_call"] for p in capacity["phases"]}


def serving(bench: dict[str, Any] | None) -> dict[str, float]:
    """The serving, checkout, stats and Kafka figures of a full make bench's JSON."""
    if bench is None:
        return SERVING_FALLBACK
    server = {
        g["method"]: g["waitroom"]["cpu_us_per_call"]["server"]
        for g in bench["grpc"]
        if g["concurrency"] == 100
    }
    return {
        "join": server["JoinQueue"],
        "status": server["GetQueueStatus"],
        "ready": bench["admission"]["cpu_us_per_person"]["stack checkout"],
        "stats": bench["flash"]["cpu_us_per_person"]["stack stats"],
        "partition": bench["admission"]["baseline"]["rate"],
    }


def costs_of(capacity: dict[str, Any], bench: dict[str, Any] | None) -> Costs:
    us, memory, served = redis_us(capacity), capacity["memory"], serving(bench)
    return Costs(
        **{f"{name}_us": us[name] for name in ("join", "status", "leave", "admit", "finish")},
        hold_us=us["hold"],
        purchase_us=us["purchase"],
        stats_us=us["apply"],
        serve_join_us=served["join"],
        serve_status_us=served["status"],
        checkout_us=served["ready"] + CHECKOUT_CALLS * served["join"],
        stats_consumer_us=served["stats"],
        partition_msgs_s=served["partition"],
        bytes_waiting=memory["bytes_per_waiting"],
        bytes_admitted=memory["bytes_per_admitted_session"] + memory["bytes_per_hold"],
        bytes_stats=memory["stats_bytes_per_person"],
    )


def sale_for(reads: Reads, people: int) -> Sale:
    buyers = people * TICKETS_PER_PERSON / TICKETS_PER_BUYER
    shape = Sale(people, reads=reads)
    return Sale(people, reads=reads, admissions_s=buyers / shape.buy_share / SELL_OUT_S)


HEADER = (
    f"{'people':>11} {'reads':<6}{'joins/s':>8}{'admit/s':>8}{'waiting':>11}{'redis reads/s':>14}"
    f"{'slot load':>10}{'line slots':>11}{'primaries':>10}{'memory GB':>10}{'serving':>8}"
    f"{'checkout':>9}{'stats':>6}{'partitions J/R/C':>17}"
)


def row(sale: Sale, p: Plan) -> str:
    parts = "/".join(str(n) for n in p.partitions.values())
    return (
        f"{sale.people:>11,} {sale.reads.value:<6}{p.joins_s:>8.0f}"
        f"{sale.admissions_s:>8.0f}{p.peak_waiting:>11,.0f}{p.status_s:>14,.0f}"
        f"{p.slot_load:>10.2f}{p.line_shards:>11}{p.redis_primaries:>10}"
        f"{p.memory_bytes / 1e9:>10.2f}{p.serving_processes:>8}{p.checkout_replicas:>9}"
        f"{p.stats_replicas:>6}{parts:>17}"
    )


def table(costs: Costs) -> str:
    sales = [sale_for(reads, n) for n in SIZES for reads in Reads]
    lines = [HEADER, *(row(s, plan(s, costs)) for s in sales)]
    for reads in Reads:
        most = largest_on_one_slot(functools.partial(sale_for, reads), costs)
        lines.append(f"one event's slot carries up to {most:,} people in 10 minutes ({reads})")
    return "\n".join(lines)


def main() -> int:
    capacity, bench = latest("capacity-*.json"), latest("[0-9]*.json")
    if capacity is None:
        print(f"no {RESULTS}/capacity-*.json: run make bench-capacity first", file=sys.stderr)
        return 1
    costs = costs_of(capacity, bench)
    served = bench["file"] if bench else "the figures of the 2026-12-01 23:50 make bench"
    print(f"from {capacity['file']} and {served}; costs (us, bytes): {costs}")
    print(table(costs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
