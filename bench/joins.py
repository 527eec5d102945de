"""JoinQueue beside the floor and the bare server, round after round, and where its CPU goes.

`python -m bench.joins [--rounds 3] [--requests 20000] [--concurrency 100]`, on the running
stack (under the stack lock, as `make bench`): the same servers and the same pair of runs as
`make bench`'s floor row (bench.load.pair), several times, so that a ratio is read beside
its spread. Each waitroom run is metered twice: during the ghz run alone (the bench's CPU
table), and until stats has read every QUEUE_JOINED it caused ("drained"), so that the work
stats and Kafka do after the load has ended is counted for the joins too.
"""

import argparse
import asyncio
import sys
import time
import uuid
from typing import Any

import grpc

from bench import cpu, kafka_io, load, report, servers
from bench.events import KAFKA, REDIS, Events, tidy
from bench.run import BARE_PORT, FLOOR_PORT, METRICS_PORT, WAITROOM_PORT
from common.kafka import topics

Row = dict[str, Any]


async def prepare(target: str, event_id: str) -> load.Data:
    async with grpc.aio.insecure_channel(target) as channel:
        await Events(channel, []).create(event_id, room=1, batch=1, tickets=1000)
    return load.Data(event_id, [])


async def stats_drained(within_s: float = 60) -> bool:
    await asyncio.sleep(1)  # the relay's linger: the last joins reach Kafka
    return await kafka_io.caught_up(KAFKA, "stats", within_s, read=(topics.QUEUE_JOINED,))


def drained(targets: load.Targets, data: load.Data, concurrency: int, requests: int) -> Row:
    """The waitroom's run, metered until stats caught up (the ghz run's own figures inside)."""
    groups = {"server": targets.waitroom.pid, **cpu.stack_groups()}
    with cpu.meter(groups) as reading:
        run = load.metered(targets.waitroom, data.load("JoinQueue", concurrency, requests))
        caught_up = asyncio.run(stats_drained())
    return {**run, "drained": {**reading.per(requests), "stats_caught_up": caught_up}}


def one_round(targets: load.Targets, data: load.Data, concurrency: int, requests: int) -> Row:
    bare = load.metered(targets.bare, data.load("JoinQueue", concurrency, requests))
    assert targets.floor is not None
    floor = load.metered(targets.floor, data.load("JoinQueue", concurrency, requests))
    room = drained(targets, data, concurrency, requests)
    return {
        "bare": bare,
        "floor": floor,
        "waitroom": room,
        "floor_ratio": floor["rps"] / bare["rps"],
        "of_floor": room["rps"] / floor["rps"],
    }


def lines(rounds: list[Row]) -> list[str]:
    out = ["round  bare rps  floor rps  waitroom rps  floor/bare  waitroom/floor"]
    for n, r in enumerate(rounds, 1):
        out.append(
            f"{n:>5}{r['bare']['rps']:>10.0f}{r['floor']['rps']:>11.0f}"
            f"{r['waitroom']['rps']:>14.0f}{r['floor_ratio']:>12.2f}{r['of_floor']:>16.2f}"
        )
    header = "".join(f"{short:>{len(short) + 2}}" for _, short in report.CPU_GROUPS)
    out += ["", f"CPU per call in µs{'':<14}{header}{'busy':>7}"]
    for n, r in enumerate(rounds, 1):
        for side in ("bare", "floor", "waitroom"):
            out.append(report.cpu_row(f"round {n} {side}", r[side], "call"))
        out.append(report.cpu_row(f"round {n} waitroom drained", r["waitroom"]["drained"], "call"))
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.joins", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args(argv)
    cores, event_id = args.processes, f"bench-joins-{uuid.uuid4().hex[:6]}"
    specs = (
        servers.bare(BARE_PORT, cores),
        servers.floor(FLOOR_PORT, cores, REDIS),
        servers.waitroom(WAITROOM_PORT, METRICS_PORT, cores),
    )
    started = time.monotonic()
    with servers.launched(*specs) as (bare, floor, room):
        targets = load.Targets(bare, room, floor)
        data = asyncio.run(prepare(room.target, event_id))
        load.metered(room, data.load("JoinQueue", args.concurrency, 2000))  # warm-up
        asyncio.run(stats_drained())
        rounds = [
            one_round(targets, data, args.concurrency, args.requests) for _ in range(args.rounds)
        ]
    print(f"python -m bench.joins {' '.join(argv)}: JoinQueue c={args.concurrency}, "
          f"{args.requests} calls a run, {cores} serving processes each")  # fmt: skip
    print("\n".join(lines(rounds)))
    print(f"took {time.monotonic() - started:.0f} s")
    asyncio.run(tidy(REDIS, KAFKA, [event_id]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
