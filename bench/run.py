"""`make bench` / `make bench-quick`: the waitroom beside its baselines, on the running stack."""

import argparse
import asyncio
import os
import sys
import time
import uuid
from dataclasses import asdict, dataclass, replace
from typing import Any

import grpc
from redis.asyncio import Redis

from bench import admission, charts, events, flash, kafka_io, load, report, servers
from bench.memory import per_person

REDIS = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
MEMORY_REDIS = "redis://127.0.0.1:6379/14"
KAFKA = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
BARE_PORT, WAITROOM_PORT, METRICS_PORT = 50061, 50071, 9171
RESTARTED = "the stack's waitroom (the admitting processor) restarted during admission/flash"


@dataclass(frozen=True, slots=True)
class Plan:
    concurrencies: list[int]
    requests: int  # per ghz run
    scale_concurrency: int
    half_peak_seconds: float
    admission_people: int
    flash_people: int
    flash_concurrency: int
    memory_people: int


QUICK = Plan([50, 100], 4000, 50, 3, 20_000, 20_000, 100, 50_000)
FULL = Plan([10, 50, 100, 200], 30_000, 100, 10, 100_000, 100_000, 200, 1_000_000)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller, under three minutes")
    parser.add_argument("--people", type=int, help="admission and flash crowd size")
    parser.add_argument("--memory-people", type=int, help="people in line for the memory figure")
    parser.add_argument(
        "--processes", type=int, default=os.cpu_count() or 1, help="serving processes (all cores)"
    )
    return parser.parse_args()


def plan_of(args: argparse.Namespace) -> Plan:
    plan = QUICK if args.quick else FULL
    if args.people:
        plan = replace(plan, admission_people=args.people, flash_people=args.people)
    if args.memory_people:
        plan = replace(plan, memory_people=args.memory_people)
    return plan


async def prepare(target: str, run: str, made: list[str]) -> load.Data:
    """An event that takes joins but admits one person, and 500 people waiting in another."""
    async with grpc.aio.insecure_channel(target) as channel:
        admin = events.Events(channel, made)
        await admin.create(f"{run}-join", room=1, batch=1, tickets=1000)
        await admin.create(f"{run}-status", room=1, batch=1, tickets=1000)
        sessions = await admin.join(f"{run}-status", [f"status-{n}" for n in range(500)])
    return load.Data(f"{run}-join", sessions)


def scaled(row: dict[str, Any], bare: servers.Served, room: servers.Served) -> dict[str, Any]:
    return {**row, "processes": {"bare": bare.processes, "waitroom": room.processes}}


def one_process(plan: Plan, run: str, made: list[str]) -> tuple[load.Data, dict[str, Any]]:
    with (
        servers.bare(BARE_PORT, 1) as bare,
        servers.waitroom(WAITROOM_PORT, METRICS_PORT, 1) as room,
    ):
        data = asyncio.run(prepare(room.target, run, made))
        targets = load.Targets(bare.target, room.target)
        row = load.pair(targets, data, "JoinQueue", plan.scale_concurrency, plan.requests)
        return data, scaled(row, bare, room)


async def system(target: str, plan: Plan, run: str, made: list[str]) -> dict[str, Any]:
    """Admission throughput, then the flash crowd, through the bench's own waitroom."""
    async with grpc.aio.insecure_channel(target) as channel:
        admin = events.Events(channel, made)
        admitted = await admission.measure(
            admin, target, REDIS, KAFKA, f"{run}-admission", plan.admission_people
        )
        crowd = await flash.crowd(
            admin, target, KAFKA, f"{run}-flash", plan.flash_people, plan.flash_concurrency
        )
    return {"admission": admitted, "flash": crowd}


def every_core(
    plan: Plan, cores: int, data: load.Data, run: str, made: list[str]
) -> dict[str, Any]:
    with (
        servers.bare(BARE_PORT, cores) as bare,
        servers.waitroom(WAITROOM_PORT, METRICS_PORT, cores) as room,
    ):
        targets = load.Targets(bare.target, room.target)
        rows = load.levels(targets, data, plan.concurrencies, plan.requests)
        half = load.half_peak(room.target, data, rows, plan.half_peak_seconds)
        many = load.pick(rows, "JoinQueue", plan.scale_concurrency) or load.pair(
            targets, data, "JoinQueue", plan.scale_concurrency, plan.requests
        )
        processes = {"bare": bare.processes, "waitroom": room.processes}
        print(f"[bench] gRPC load done; admission and flash crowd next ({time.ctime()})")
        admitter = stack_waitroom_pid()
        result = asyncio.run(system(room.target, plan, run, made))
        if stack_waitroom_pid() != admitter:
            result["warnings"] = [RESTARTED]
    return {
        "processes": processes,
        "grpc": rows,
        "half_peak": half,
        "many": scaled(many, bare, room),
        **result,
    }


def stack_waitroom_pid() -> str:
    """The stack's waitroom, whose queue processor admits the bench's people."""
    path = report.ROOT / "var/run/waitroom.pid"
    return path.read_text().strip() if path.exists() else ""


async def tidy(made: list[str]) -> None:
    """Removes the bench's events once checkout has read their QUEUE_READY (else keeps them)."""
    if not await kafka_io.caught_up(KAFKA, "checkout", within_s=120):
        print(f"[bench] checkout still behind on QUEUE_READY: left events {made} in Redis")
        return
    removed = await events.remove(REDIS, made)
    print(f"[bench] removed {removed} Redis keys of the bench's {len(made)} events")


async def redis_version() -> str:
    redis = Redis.from_url(REDIS, decode_responses=True)
    try:
        return str((await redis.info("server"))["redis_version"])
    finally:
        await redis.aclose()


def main() -> int:
    args = parse_args()
    plan, run = plan_of(args), f"bench-{uuid.uuid4().hex[:6]}"
    made: list[str] = []
    stamp, started = time.strftime("%Y%m%d-%H%M%S"), time.monotonic()
    print(f"[bench] {run}: {asdict(plan)}")
    try:
        data, one = one_process(plan, run, made)
        measured = every_core(plan, args.processes, data, run, made)
    finally:
        asyncio.run(tidy(made))
    print(f"[bench] Redis memory with {plan.memory_people} people in line ({time.ctime()})")
    memory = asyncio.run(per_person(MEMORY_REDIS, plan.memory_people))
    many = measured.pop("many")
    result: dict[str, Any] = {
        "command": "make bench-quick" if args.quick else "make bench",
        "stamp": stamp,
        "plan": asdict(plan),
        "machine": report.machine(),
        "versions": report.versions(asyncio.run(redis_version())),
        **measured,
        "scaling": [one, many],
        "scaling_speedup": {s: many[s]["rps"] / one[s]["rps"] for s in ("bare", "waitroom")},
        "redis_memory": memory,
        "seconds": time.monotonic() - started,
    }
    result["targets"] = report.targets(result)
    path = report.write(result, stamp)
    title = f"{result['command']}, {stamp}, {result['machine']['cpus']} cores"
    pngs = charts.draw(result["grpc"], title, path.with_suffix(""))
    print("\n" + report.table(result))
    print(f"\nresults: {path.relative_to(report.ROOT)}, charts: {', '.join(p.name for p in pngs)}")
    print(f"took {result['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
