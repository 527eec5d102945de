"""`make bench` / `make bench-quick`: the waitroom beside its baselines, on the running stack."""

import argparse
import asyncio
import os
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import grpc
from redis.asyncio import Redis

from bench import (
    admission,
    capacity,
    capacity_plan,
    charts,
    cpu,
    events,
    flash,
    flash_watch,
    load,
    report,
    servers,
    waiting,
)
from bench.events import KAFKA, REDIS
from bench.memory import per_person
from bench.phases import Phases
from bench.waiting_report import table as waiting_table

BARE_PORT, FLOOR_PORT, WAITROOM_PORT, METRICS_PORT = 50061, 50062, 50071, 9171
Result = dict[str, Any]
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


QUICK = Plan([50, 100], 3000, 50, 3, 15_000, 10_000, 100, 20_000)
FULL = Plan([10, 50, 100, 200], 20_000, 100, 10, 100_000, 100_000, 200, 1_000_000)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller, under three minutes")
    parser.add_argument("--people", type=int, help="admission and flash crowd sizes")
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


def scaled(row: Result, bare: servers.Served, room: servers.Served) -> Result:
    return {**row, "processes": {"bare": bare.processes, "waitroom": room.processes}}


@dataclass
class Bench:
    """One run: its plan, its id (the prefix of its events), the events made, the clock."""

    plan: Plan
    processes: int
    run: str = field(default_factory=lambda: f"bench-{uuid.uuid4().hex[:6]}")
    made: list[str] = field(default_factory=list)
    clock: Phases = field(default_factory=Phases)

    def one_process(self) -> tuple[load.Data, Result]:
        plan = self.plan
        specs = servers.bare(BARE_PORT, 1), servers.waitroom(WAITROOM_PORT, METRICS_PORT, 1)
        with servers.launched(*specs) as (bare, room), self.clock.phase("JoinQueue, 1 process"):
            data = asyncio.run(prepare(room.target, self.run, self.made))
            targets = load.Targets(bare, room)
            row = load.pair(targets, data, "JoinQueue", plan.scale_concurrency, plan.requests)
            return data, scaled(row, bare, room)

    def every_core(self, data: load.Data) -> Result:
        plan, cores = self.plan, self.processes
        specs = (
            servers.bare(BARE_PORT, cores),
            servers.floor(FLOOR_PORT, cores, REDIS),
            servers.waitroom(WAITROOM_PORT, METRICS_PORT, cores),
        )
        with servers.launched(*specs) as (bare, floor, room):
            targets = load.Targets(bare, room, floor)
            with self.clock.phase(f"gRPC load with {cores} serving processes"):
                rows = load.levels(
                    targets, data, plan.concurrencies, plan.requests, plan.scale_concurrency
                )
                half = load.half_peak(targets, data, rows, plan.half_peak_seconds)
                many = load.pick(rows, "JoinQueue", plan.scale_concurrency) or load.pair(
                    targets, data, "JoinQueue", plan.scale_concurrency, plan.requests
                )
            admitter = stack_waitroom_pid()
            result = asyncio.run(self.system(room))
            if stack_waitroom_pid() != admitter:
                result["warnings"] = [RESTARTED]
            return {
                "processes": {"bare": bare.processes, "waitroom": room.processes},
                "grpc": rows,
                "half_peak": half,
                "many": scaled(many, bare, room),
                **result,
            }

    async def system(self, room: servers.Served) -> Result:
        """Admission throughput, then the flash crowd, through the bench's own waitroom."""
        plan, run, target = self.plan, self.run, room.target
        groups = {"server": room.pid, **cpu.stack_groups()}
        async with grpc.aio.insecure_channel(target) as channel:
            admin = events.Events(channel, self.made)
            with self.clock.phase(f"admission of {plan.admission_people} people"):
                admitted = await admission.measure(
                    admin, target, REDIS, KAFKA, f"{run}-admission", plan.admission_people, groups
                )
            with self.clock.phase(f"flash crowd of {plan.flash_people}"):
                crowd = await flash.crowd(
                    admin,
                    target,
                    KAFKA,
                    f"{run}-flash",
                    plan.flash_people,
                    plan.flash_concurrency,
                    groups,
                )
            people = min(plan.flash_people // 2, 20_000)
            with self.clock.phase(f"flash crowd of {people} watching, then polling"):
                watched = await flash_watch.crowds(
                    admin, target, REDIS, KAFKA, run, people, plan.flash_concurrency, groups
                )
        return {"admission": admitted, "flash": crowd, "flash_watch": watched}

    def measure(self) -> Result:
        print(f"[bench] {self.run}: {asdict(self.plan)}")
        try:
            data, one = self.one_process()
            measured = self.every_core(data)
            shape = waiting.QUICK if self.plan == QUICK else waiting.FULL
            measured["waiting"] = waiting.Waiting(
                shape, self.processes, self.run, self.made, self.clock
            ).measure()
        except BaseException:
            asyncio.run(memory_and_tidy(0, self.made, grace_s=30))
            raise
        people = self.plan.memory_people
        with self.clock.phase(f"Redis memory with {people} people in line"):
            memory = asyncio.run(memory_and_tidy(people, self.made, grace_s=30))
        many = measured.pop("many")
        return {
            **measured,
            "scaling": [one, many],
            "scaling_speedup": {s: many[s]["rps"] / one[s]["rps"] for s in ("bare", "waitroom")},
            "redis_memory": memory,
        }


def stack_waitroom_pid() -> str:
    """The stack's waitroom, whose queue processor admits the bench's people."""
    path = report.ROOT / "var/run/waitroom.pid"
    return path.read_text().strip() if path.exists() else ""


async def memory_and_tidy(people: int, made: list[str], grace_s: float) -> dict[str, float]:
    """Redis memory per person (a database of its own) while the bench's events go.

    With no people (a failed run), only the events go.
    """
    tidying = asyncio.create_task(events.tidy(REDIS, KAFKA, made))
    memory = await per_person(people) if people else {}
    later = f"python -m bench.events {' '.join(made)}"
    try:
        await asyncio.wait_for(tidying, grace_s)
    except TimeoutError:
        print(f"[bench] checkout or stats is still behind: later, {later}")
    except Exception as error:  # the figures stand; only the clean-up failed
        print(f"[bench] could not remove the bench's events ({error!r}): later, {later}")
    return memory


async def redis_version() -> str:
    redis = Redis.from_url(REDIS, decode_responses=True)
    try:
        return str((await redis.info("server"))["redis_version"])
    finally:
        await redis.aclose()


def main() -> int:
    args = parse_args()
    bench, stamp = Bench(plan_of(args), args.processes), time.strftime("%Y%m%d-%H%M%S")
    result: Result = {
        "command": " ".join(["python -m bench.run", *sys.argv[1:]]),
        "stamp": stamp,
        "plan": asdict(bench.plan),
        "machine": report.machine(),
        "versions": report.versions(asyncio.run(redis_version())),
        **bench.measure(),
        "phases_s": bench.clock.seconds,
        "seconds": round(bench.clock.elapsed()),
    }
    result["targets"] = report.targets(result)
    path = report.write(result, stamp)
    title = f"{result['command']}, {stamp}, {result['machine']['cpus']} cores"
    pngs = charts.draw(result["grpc"], title, path.with_suffix(""))
    print("\n" + report.table(result))
    print("\n" + waiting_table(result["waiting"]))
    print(f"\nresults: {path.relative_to(report.ROOT)}, charts: {', '.join(p.name for p in pngs)}")
    print(f"took {result['seconds']} s")
    if not args.quick:  # on a redis-server of its own (6391), then the model from both runs
        return capacity.main([]) or capacity_plan.main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
