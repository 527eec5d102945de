"""GetQueueStatus of people waiting: the waitroom's throughput beside the bare server's, and
the Redis calls per read (INFO commandstats, the idle rate measured just before subtracted).

ghz goes round thousands of distinct sessions spread along the whole line, front to back;
every read must end OK, and a sample read before and after must answer QUEUED at the place
each person joined (nobody is admitted or leaves meanwhile), so a fast wrong answer fails.
"""

import asyncio
import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import grpc

from bench import cpu, ghz
from bench.servers import Served
from bench.waiting_line import QUEUED, Line, Meters, counted, idle_rate, per_read, place_ok
from waitroomapi.waitroom.v1 import waitroom_pb2 as pb
from waitroomapi.waitroom.v1 import waitroom_pb2_grpc as pb_grpc

IDLE_SECONDS = 5.0
CHECKED = 200  # sessions read back before and after, each checked for its place


def run_file(target: str, load: ghz.Load, data_file: Path) -> dict[str, Any]:
    """ghz with its call data in a file (thousands of sessions overflow one argument)."""
    command = [str(ghz.GHZ), "--insecure", "--import-paths", str(ghz.ROOT / "protos")]
    command += ["--proto", "waitroomapi/waitroom/v1/waitroom.proto"]
    command += ["--call", f"{ghz.SERVICE}/{load.method}", "-D", str(data_file)]
    command += ["-c", str(load.concurrency), "-n", str(load.requests), "-O", "json"]
    command += ["--connections", str(min(load.concurrency, load.connections)), target]
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    return ghz.summary(json.loads(out.stdout), load)


def metered(server: Served, load: ghz.Load, data_file: Path) -> dict[str, Any]:
    with cpu.meter({"server": server.pid}) as reading:
        result = run_file(server.target, load, data_file)
    return {**result, **reading.per(load.requests, "read")}


async def check_places(target: str, sample: list[tuple[int, str]]) -> int:
    """Reads each sampled person once; raises unless each is QUEUED at their place."""
    async with grpc.aio.insecure_channel(target) as channel:
        stub = pb_grpc.WaitroomServiceStub(channel)
        replies = await asyncio.gather(
            *(
                stub.GetQueueStatus(pb.GetQueueStatusRequest(session_id=s), timeout=30)
                for _, s in sample
            )
        )
    for (place, session), reply in zip(sample, replies, strict=True):
        if reply.status != QUEUED or not place_ok(place, reply.position):
            raise AssertionError(
                f"status of {session}: {reply.status} at {reply.position}, not {place}"
            )
    return len(sample)


async def redis_per_read(
    room: Served, meters: Meters, load: ghz.Load, data_file: Path
) -> dict[str, Any]:
    """The waitroom under ghz, with the Redis calls counted and the idle rate taken off."""
    idle = await idle_rate(meters, IDLE_SECONDS)
    async with counted(meters) as during:
        result = await asyncio.to_thread(metered, room, load, data_file)
    return {**result, **per_read(during[0], idle, load.requests)}


def measure(
    bare: Served, room: Served, meters: Meters, line: Line, sessions: int, requests: int
) -> dict[str, Any]:
    """Bare server, then the waitroom, the same ghz load over `sessions` distinct people."""
    spread = line.spread(sessions)
    sample = spread[:: max(1, len(spread) // CHECKED)]
    load = ghz.Load("GetQueueStatus", "", 100, requests)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as data:
        json.dump([{"session_id": s} for _, s in spread], data)
    data_file = Path(data.name)
    try:
        checked = asyncio.run(check_places(room.target, sample))
        base = metered(bare, load, data_file)
        real = asyncio.run(redis_per_read(room, meters, load, data_file))
        checked += asyncio.run(check_places(room.target, sample))
    finally:
        data_file.unlink()
    return {
        "sessions": len(spread),
        "line": len(line.sessions),
        "deepest_position": spread[-1][0],
        "concurrency": load.concurrency,
        "requests": requests,
        "checked_places": checked,
        "bare": base,
        "waitroom": real,
        "ratio": real["rps"] / base["rps"],
    }
