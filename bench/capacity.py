"""`make bench-capacity`: what one Redis primary carries for one event, script by script.

Starts a redis-server of its own on 127.0.0.1:6391 (append-only, fsync every second, no
eviction, as production runs), makes one event through the services' repositories, then
drives each script a sale runs with pipelined EVALSHA batches from several connections:
joins, status reads, leaves, admission steps, checkout outcomes, holds, purchases and the
stats updates. Each phase reads INFO commandstats and INFO cpu from CONFIG RESETSTAT to its
last reply. Replies, counts and the repositories' own reads are checked, so a wrong run
fails instead of looking fast. The JSON goes to bench/results/capacity-<stamp>.json.
"""

import argparse
import dataclasses
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import redis

from bench import capacity_repos as repos
from bench.capacity_drive import BATCH
from bench.capacity_phases import Figures, Miscount
from bench.capacity_report import table
from bench.capacity_sale import Sale, Shape
from bench.capacity_same import check_same_calls
from bench.capacity_server import private_redis, used_memory, version
from waitroom.repository import key

RESULTS = Path(__file__).parent / "results"
FULL = Shape(
    people=200_000,
    connections=4,
    pipeline=BATCH,
    max_concurrent=10_000,
    batch_size=1000,
    checkout_ttl_s=10,
)
QUICK = dataclasses.replace(FULL, people=20_000)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 people, under 30 s")
    parser.add_argument("--people", type=int, help="people who join (default 200,000)")
    parser.add_argument("--connections", type=int, help="client connections (default 4)")
    parser.add_argument("--pipeline", type=int, help=f"calls a batch (default {BATCH})")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where the JSON goes")
    return parser.parse_args(argv)


def shape_of(args: argparse.Namespace) -> Shape:
    shape = QUICK if args.quick else FULL
    if args.people:
        shape = dataclasses.replace(shape, people=args.people)
    if args.connections:
        shape = dataclasses.replace(shape, connections=args.connections)
    if args.pipeline:
        shape = dataclasses.replace(shape, pipeline=args.pipeline)
    return shape


def run_sale(client: redis.Redis, shape: Shape) -> dict[str, Any]:
    event_id = f"capacity-{int(time.time())}"
    repos.create_event(f"{event_id}-probe", shape)
    check_same_calls(client, f"{event_id}-probe")
    repos.create_event(event_id, shape)
    sale = Sale(client, event_id, shape)
    memory = {"start": used_memory(client)}
    phases: list[Figures] = [sale.join()]
    memory["joined"] = used_memory(client)
    memory["line"] = relayed(client, event_id)
    phases += [sale.status(), sale.leave()]
    repos.check_line(event_id, sale.admitted)
    phases += [sale.admit(), sale.finish()]
    memory["before_holds"] = relayed(client, event_id)
    phases.append(sale.hold())
    memory["holds"] = used_memory(client)
    phases.append(sale.purchase())
    memory["before_stats"] = used_memory(client)
    phases.append(sale.apply())
    memory["stats"] = used_memory(client)
    repos.check_end(event_id, shape.people, sale.admitted)
    return {
        "phases": [dataclasses.asdict(f) for f in phases],
        "memory": memory_figures(memory, shape.people, len(sale.admitted)),
    }


def relayed(client: redis.Redis, event_id: str) -> int:
    """used_memory once the relay has sent and deleted the outbox (what Kafka acknowledged)."""
    client.xtrim(key(event_id, "outbox"), maxlen=0, approximate=False)
    return used_memory(client)


def memory_figures(memory: dict[str, int], people: int, admitted: int) -> dict[str, Any]:
    return {
        "used_memory": memory,
        "bytes_per_waiting": round((memory["line"] - memory["start"]) / people, 1),
        "bytes_per_waiting_with_outbox": round((memory["joined"] - memory["start"]) / people, 1),
        "bytes_per_hold": round((memory["holds"] - memory["before_holds"]) / admitted, 1),
        # a session admitted, bought and ended, its place in line given back
        "bytes_per_admitted_session": round(
            (memory["before_holds"] - memory["line"]) / admitted, 1
        ),
        "stats_bytes_per_person": round((memory["stats"] - memory["before_stats"]) / people, 1),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    shape = shape_of(args)
    started = time.monotonic()
    with private_redis() as client:
        redis_version = version(client)
        try:
            result = run_sale(client, shape)
        except Miscount as wrong:
            print(f"capacity bench FAILED: {wrong}", file=sys.stderr)
            return 1
    stamp = time.strftime("%Y%m%d-%H%M%S")
    result = {
        "command": " ".join(
            ["python -m bench.capacity", *(sys.argv[1:] if argv is None else argv)]
        ),
        "stamp": stamp,
        "shape": dataclasses.asdict(shape),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "versions": {"redis_server": redis_version, "python": platform.python_version()},
        **result,
        "seconds": round(time.monotonic() - started, 1),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"capacity-{stamp}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))
    print(f"\n{path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
