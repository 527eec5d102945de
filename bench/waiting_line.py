"""A line of people waiting, on a redis-server of its own: what the waiting benchmarks share.

The waitroom under test serves from a fresh redis-server (a free port, no persistence), so
INFO commandstats counts the waitroom's calls alone: nothing else of the stack, nor another
test, writes there. Its outbox still goes to the stack's Kafka (checkout and stats hear of the
bench's event as of any other; events.tidy removes their keys afterwards).
"""

import asyncio
import contextlib
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace

import grpc
from redis.asyncio import Redis

from bench import events, servers
from waitroomapi.waitroom.v1 import waitroom_pb2 as pb
from waitroomapi.waitroom.v1 import waitroom_pb2_grpc as pb_grpc

JOIN_CHANNELS = 8
JOINS_IN_FLIGHT = 400
QUEUED = pb.SessionStatus.Value("SESSION_STATUS_QUEUED")
# INFO itself is the bench's own call, never the waitroom's
OWN_COMMANDS = {"info", "config|resetstat", "config"}


@contextlib.contextmanager
def own_redis() -> Iterator[str]:
    """A redis-server on a free port for this run alone; yields its URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    state = tempfile.mkdtemp(prefix="bench-waiting-")
    args = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", state]
    args += ["--save", "", "--appendonly", "no", "--logfile", "", "--daemonize", "no"]
    server = subprocess.Popen(args, stdout=subprocess.DEVNULL)
    try:
        _wait_for(port, server)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(timeout=30)


def _wait_for(port: int, server: subprocess.Popen[bytes]) -> None:
    for _ in range(200):
        if server.poll() is not None:
            raise RuntimeError(f"redis-server on {port} exited ({server.returncode})")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"redis-server on {port} did not answer")


def waitroom(spec: servers.Spec, redis_url: str, processor: bool = False) -> servers.Spec:
    """The bench's waitroom spec, on the bench's own Redis (its processor on or off)."""
    env = {**spec.env, "REDIS_URL": redis_url, "QUEUE_PROCESSOR_ENABLED": str(processor).lower()}
    return replace(spec, env=env)


async def redis_calls(redis_url: str) -> int:
    """Calls of every command Redis has served so far (evalsha among them), but INFO's."""
    redis = Redis.from_url(redis_url, decode_responses=True)
    try:
        stats = await redis.info("commandstats")
    finally:
        await redis.aclose()
    return sum(
        int(figures["calls"])
        for name, figures in stats.items()
        if name.removeprefix("cmdstat_") not in OWN_COMMANDS
    )


@dataclass(frozen=True, slots=True)
class Rate:
    calls: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.calls / self.seconds if self.seconds else 0.0


@contextlib.asynccontextmanager
async def counted(redis_url: str) -> AsyncIterator[list[Rate]]:
    """The Redis calls made meanwhile; the list gets one Rate when the block ends."""
    out: list[Rate] = []
    before, started = await redis_calls(redis_url), time.monotonic()
    yield out
    out.append(Rate(await redis_calls(redis_url) - before, time.monotonic() - started))


async def idle_rate(redis_url: str, seconds: float) -> Rate:
    """What the waitroom calls on its own (processor, relay, pulses, health) with no load."""
    async with counted(redis_url) as rate:
        await asyncio.sleep(seconds)
    return rate[0]


@dataclass(frozen=True, slots=True)
class Line:
    """The bench's line: session ids in line order (index 0 is position 1)."""

    event_id: str
    sessions: list[str]

    def spread(self, count: int) -> list[tuple[int, str]]:
        """`count` (position, session id), evenly along the whole line, front to back."""
        step = max(1, len(self.sessions) // count)
        return [(i + 1, self.sessions[i]) for i in range(0, len(self.sessions), step)][:count]


async def join_line(target: str, made: list[str], event_id: str, people: int) -> Line:
    """An event that admits nobody while the processor is off, and `people` joined in it."""
    channels = [grpc.aio.insecure_channel(target) for _ in range(JOIN_CHANNELS)]
    try:
        admin = events.Events(channels[0], made)
        await admin.create(event_id, room=1, batch=1, tickets=10 * people)
        stubs = [pb_grpc.WaitroomServiceStub(c) for c in channels]
        by_position: list[str] = [""] * people
        limit = asyncio.Semaphore(JOINS_IN_FLIGHT)

        async def join(n: int) -> None:
            request = pb.JoinQueueRequest(user_id=f"wait-{n}", event_id=event_id)
            async with limit:
                reply = await stubs[n % len(stubs)].JoinQueue(request, timeout=60)
            if reply.status != QUEUED or not 1 <= reply.position <= people:
                raise AssertionError(f"join {n}: {reply.status} at {reply.position}")
            by_position[reply.position - 1] = reply.session_id

        await asyncio.gather(*(join(n) for n in range(people)))
    finally:
        for channel in channels:
            await channel.close()
    if not all(by_position) or len(set(by_position)) != people:
        raise AssertionError("join: the line has gaps or repeats")
    return Line(event_id, by_position)


def place_ok(place: int, position: int) -> bool:
    """A status read's position against the place the person joined at (nobody ahead left or
    was admitted): exact in the first 1,000 places, within a twentieth further back."""
    return position == place if place <= 1000 else abs(position - place) <= place // 20
