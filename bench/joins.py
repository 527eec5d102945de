"""JoinQueue beside the floor and the bare server, round after round, and where its CPU goes.

`python -m bench.joins [--rounds 3] [--requests 20000] [--concurrency 100] [--baseline DIR]`,
on the running stack (under the stack lock, as `make bench`): the same servers and the same
runs as `make bench`'s floor row (bench.load.pair), several times, so that a ratio is read
beside its spread. Each waitroom run is metered twice: during the ghz run alone (the bench's
CPU table), and until stats has read every QUEUE_JOINED it caused ("drained"), so that the
work stats and Kafka do after the load has ended is counted for the joins too.

--baseline DIR: another checkout (with its own .venv), whose waitroom serves beside this one
(ports 52171 and 52172) and answers the same load in every round, just before it: a change
is read against its baseline in the same conditions, round by round.
"""

import argparse
import asyncio
import sys
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import grpc

from bench import cpu, kafka_io, load, report, servers
from bench.events import KAFKA, REDIS, Events, tidy
from bench.run import BARE_PORT, FLOOR_PORT, METRICS_PORT, WAITROOM_PORT
from common.kafka import topics

Row = dict[str, Any]
BASELINE_PORT, BASELINE_METRICS_PORT = 52171, 52172


async def prepare(target: str, event_id: str) -> load.Data:
    async with grpc.aio.insecure_channel(target) as channel:
        await Events(channel, []).create(event_id, room=1, batch=1, tickets=1000)
    return load.Data(event_id, [])


async def stats_drained(within_s: float = 60) -> bool:
    await asyncio.sleep(1)  # the relay's linger: the last joins reach Kafka
    return await kafka_io.caught_up(KAFKA, "stats", within_s, read=(topics.QUEUE_JOINED,))


def drained(server: servers.Served, data: load.Data, concurrency: int, requests: int) -> Row:
    """A waitroom's run, metered until stats caught up (the ghz run's own figures inside)."""
    groups = {"server": server.pid, **cpu.stack_groups()}
    with cpu.meter(groups) as reading:
        run = load.metered(server, data.load("JoinQueue", concurrency, requests))
        caught_up = asyncio.run(stats_drained())
    return {**run, "drained": {**reading.per(requests), "stats_caught_up": caught_up}}


def one_round(served: dict[str, servers.Served], data: load.Data, c: int, n: int) -> Row:
    """bare, floor, [baseline,] waitroom: each side's figures, and each waitroom's / floor."""
    row = {side: load.metered(served[side], data.load("JoinQueue", c, n)) for side in SIMPLE}
    for side in WAITROOMS:
        if side in served:
            row[side] = drained(served[side], data, c, n)
    return {**row, "of_floor": {s: row[s]["rps"] / row["floor"]["rps"] for s in row}}


SIMPLE, WAITROOMS = ("bare", "floor"), ("baseline", "waitroom")


def lines(rounds: list[Row]) -> list[str]:
    sides = [s for s in (*SIMPLE, *WAITROOMS) if s in rounds[0]]
    out = [
        "round" + "".join(f"{s + ' rps':>14}" for s in sides) + "   / floor: " + ", ".join(sides)
    ]
    for n, r in enumerate(rounds, 1):
        ratios = ", ".join(f"{r['of_floor'][s]:.2f}" for s in sides)
        out.append(f"{n:>5}" + "".join(f"{r[s]['rps']:>14.0f}" for s in sides) + f"   {ratios}")
    header = "".join(f"{short:>{len(short) + 2}}" for _, short in report.CPU_GROUPS)
    out += ["", f"CPU per call in µs{'':<14}{header}{'busy':>7}"]
    for n, r in enumerate(rounds, 1):
        for side in sides:
            out.append(report.cpu_row(f"round {n} {side}", r[side], "call"))
            if "drained" in r[side]:
                out.append(report.cpu_row(f"round {n} {side} drained", r[side]["drained"], "call"))
    return out


def specs(cores: int, baseline: Path | None) -> dict[str, servers.Spec]:
    chosen = {
        "bare": servers.bare(BARE_PORT, cores),
        "floor": servers.floor(FLOOR_PORT, cores, REDIS),
        "waitroom": servers.waitroom(WAITROOM_PORT, METRICS_PORT, cores),
    }
    if baseline is not None:
        spec = servers.waitroom(BASELINE_PORT, BASELINE_METRICS_PORT, cores)
        python = str(baseline.resolve() / ".venv/bin/python")
        chosen["baseline"] = replace(
            spec, name="baseline", command=[python, *spec.command[1:]], cwd=baseline.resolve()
        )
    return chosen


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.joins", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--baseline", type=Path, help="another checkout, served beside")
    args = parser.parse_args(argv)
    cores, event_id = args.processes, f"bench-joins-{uuid.uuid4().hex[:6]}"
    chosen, started = specs(cores, args.baseline), time.monotonic()
    with servers.launched(*chosen.values()) as launched:
        served = dict(zip(chosen, launched, strict=True))
        data = asyncio.run(prepare(served["waitroom"].target, event_id))
        for side in WAITROOMS:  # warm-up
            if side in served:
                load.metered(served[side], data.load("JoinQueue", args.concurrency, 2000))
        asyncio.run(stats_drained())
        rounds = [
            one_round(served, data, args.concurrency, args.requests) for _ in range(args.rounds)
        ]
    print(f"python -m bench.joins {' '.join(argv)}: JoinQueue c={args.concurrency}, "
          f"{args.requests} calls a run, {cores} serving processes each")  # fmt: skip
    print("\n".join(lines(rounds)))
    print(f"took {time.monotonic() - started:.0f} s")
    asyncio.run(tidy(REDIS, KAFKA, [event_id]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
