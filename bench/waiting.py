"""People waiting, each benchmark beside its baseline: status reads, pollers, open streams.

One line of people joins a waitroom of the bench's own on a redis-server of its own; then
GetQueueStatus against the bare server (throughput, Redis calls per read), the pollers at
growing sizes (Redis calls per second), and the open streams of one serving process against
the bare streams server. `make bench` runs it as a phase; alone:
`python -m bench.waiting [--quick]` (ports: --port-base, default the bench's own).
"""

import argparse
import asyncio
import json
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from redis.asyncio import Redis

from bench import kafka_io, pollers, servers, status_reads, streams
from bench.events import KAFKA, REDIS, tidy
from bench.phases import Phases
from bench.report import RESULTS
from bench.stream_client import raise_open_files
from bench.waiting_line import Line, Meters, join_line, own_redis, waitroom
from bench.waiting_report import table
from stats.consumer import TOPICS as STATS_TOPICS
from waitroom.repository import key

Result = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Shape:
    people: int  # in line
    sessions: int  # distinct people ghz reads
    requests: int  # per ghz run
    sizes: list[int]  # pollers
    poll_seconds: float  # each size polls this long
    steady_s: float  # streams: the window of CPU per update
    admit: int  # streams: the admission step's size


FULL = Shape(100_000, 5_000, 20_000, [10_000, 25_000, 50_000, 100_000], 30.0, 25.0, 1_000)
QUICK = Shape(10_000, 2_000, 3_000, [1_000, 10_000], 10.0, 21.0, 200)


@dataclass(frozen=True)
class Ports:
    bare: int = 50061
    waitroom: int = 50071
    metrics: int = 9171
    bare_streams: int = 50062


@dataclass
class Waiting:
    shape: Shape
    processes: int
    run: str
    made: list[str] = field(default_factory=list)
    clock: Phases = field(default_factory=Phases)
    ports: Ports = field(default_factory=Ports)

    def measure(self) -> Result:
        raise_open_files()
        with own_redis() as url:
            reads, polls, line = self.polled(url)
            partial = {"shape": asdict(self.shape), "status_reads": reads, "pollers": polls}
            (RESULTS / f"waiting-{self.run}-partial.json").write_text(json.dumps(partial, indent=2))
            with self.clock.phase(f"{len(line.sessions)} open streams"):
                try:
                    watched = self.streams(url, line)
                except Exception as error:  # the reads' and pollers' figures still stand
                    print(f"[bench] open streams FAILED: {error}", flush=True)
                    watched = {"streams": {"failed": repr(error)}}
        return {"shape": asdict(self.shape), "status_reads": reads, "pollers": polls, **watched}

    def polled(self, url: str) -> tuple[Result, Result, Line]:
        shape, ports, cores = self.shape, self.ports, self.processes
        room = waitroom(servers.waitroom(ports.waitroom, ports.metrics, cores), url, True)
        with servers.launched(servers.bare(ports.bare, cores), room) as (bare, served):
            with self.clock.phase(f"a line of {shape.people} people"):
                line = asyncio.run(
                    join_line(served.target, self.made, f"{self.run}-waiting", shape.people)
                )
                asyncio.run(relayed(url, line.event_id))
            meters = Meters(url, ports.metrics)
            with self.clock.phase("GetQueueStatus of people waiting"):
                reads = status_reads.measure(
                    bare, served, meters, line, shape.sessions, shape.requests
                )
            with self.clock.phase(f"pollers {shape.sizes}"):
                polls = pollers.measure(served, meters, line, shape.sizes, shape.poll_seconds)
        return reads, polls, line

    def streams(self, url: str, line: Line) -> Result:
        shape, ports = self.shape, self.ports
        with servers.launched(streams.bare_spec(ports.bare_streams)) as (bare,):
            base = asyncio.run(streams.bare(bare, len(line.sessions), shape.steady_s))
        room = waitroom(servers.waitroom(ports.waitroom, ports.metrics, 1), url, processor=True)
        with servers.launched(room) as (served,):
            real = asyncio.run(streams.waitroom(served, line, shape.steady_s, shape.admit))
        ratio = real["bytes_per_stream"] / max(base["bytes_per_stream"], 1)
        return {"streams": {"bare": base, "waitroom": real, "memory_ratio": round(ratio, 2)}}


async def relayed(url: str, event_id: str, within_s: float = 180) -> None:
    """Until the joins' outbox is in Kafka and stats has read it: no backlog under the load."""
    redis = Redis.from_url(url)
    try:
        deadline = time.monotonic() + within_s
        while await redis.xlen(key(event_id, "outbox")):
            if time.monotonic() > deadline:
                raise AssertionError("the waitroom's relay did not empty the outbox")
            await asyncio.sleep(0.5)
    finally:
        await redis.aclose()
    if not await kafka_io.caught_up(KAFKA, "stats", 60, read=STATS_TOPICS):
        print("[bench] stats is still behind the line's joins; measuring anyway", flush=True)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--processes", type=int, default=2, help="serving processes of the reads")
    parser.add_argument("--port-base", type=int, help="bare, waitroom, bare streams: BASE, +1, +2")
    parser.add_argument("--metrics-port", type=int, default=Ports.metrics)
    args = parser.parse_args(argv)
    ports = Ports()
    if args.port_base:
        base = args.port_base
        ports = Ports(base, base + 1, args.metrics_port, base + 2)
    run = f"bench-{uuid.uuid4().hex[:6]}"
    bench = Waiting(QUICK if args.quick else FULL, args.processes, run, ports=ports)
    started, stamp = time.monotonic(), time.strftime("%Y%m%d-%H%M%S")
    try:
        result = bench.measure()
        result = {"command": " ".join(["python -m bench.waiting", *argv]), "stamp": stamp, **result}
        result["seconds"] = round(time.monotonic() - started)
        path = RESULTS / f"waiting-{stamp}.json"
        path.write_text(json.dumps(result, indent=2) + "\n")
        (RESULTS / f"waiting-{run}-partial.json").unlink(missing_ok=True)
        print("\n" + table(result) + f"\n\nresults: {path}", flush=True)
    finally:
        asyncio.run(tidied(bench.made))
    return 1 if "failed" in result["streams"] else 0


async def tidied(made: list[str], within_s: float = 120) -> None:
    """The bench's event goes from checkout and stats, once they have read it (a bounded wait:
    the stack may be down)."""
    try:
        await asyncio.wait_for(tidy(REDIS, KAFKA, made), within_s)
    except TimeoutError:
        print(
            f"[bench] checkout or stats is behind: later, python -m bench.events {' '.join(made)}"
        )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
