"""A line of people waiting, on a redis-server of its own: what the waiting benchmarks share.

The waitroom under test serves from a fresh redis-server (a free port, no persistence), so
INFO commandstats counts the waitroom's calls alone: nothing else of the stack, nor another
test, writes there. Its outbox still goes to the stack's Kafka (checkout and stats hear of the
bench's event as of any other; events.tidy removes their keys afterwards).
"""

import asyncio
import contextlib
import re
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from typing import Any

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


SCRIPT_CALLS = {"evalsha", "eval", "evalsha_ro", "eval_ro", "fcall", "fcall_ro"}
FINISH_COMMANDS = 3
CONSUMED = re.compile(r"waitroom_(consumed|consume_retries|dead_lettered)_total\{")
LUA = re.compile(r"redis\.p?call\(\s*['\"]([A-Za-z]+)['\"]")


def script_commands() -> set[str]:
    """Commands some service's script runs: INFO counts those too, inside each script call."""
    return {
        name.lower()
        for path in (servers.ROOT / "services").glob("*/lua/*.lua")
        for name in LUA.findall(path.read_text())
    }


async def command_calls(redis_url: str) -> Counter[str]:
    """Calls of every command Redis has served so far (INFO commandstats), but INFO's."""
    redis = Redis.from_url(redis_url, decode_responses=True)
    try:
        stats = await redis.info("commandstats")
    finally:
        await redis.aclose()
    calls = Counter({name.removeprefix("cmdstat_"): int(f["calls"]) for name, f in stats.items()})
    for own in OWN_COMMANDS:
        calls.pop(own, None)
    return calls


@dataclass(frozen=True, slots=True)
class Meters:
    """Where the bench reads the waitroom's Redis work: its Redis, and its metrics page."""

    redis_url: str
    metrics_port: int


async def records_consumed(metrics_port: int) -> int:
    """Kafka records the waitroom's consumer took (its waitroom_consumed_total and the rest)."""
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    text = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=10).read().decode())
    return round(
        sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if CONSUMED.match(line))
    )


@dataclass(frozen=True, slots=True)
class Rate:
    """Commands counted over a window: every one, and the calls sent (the round trips).

    The waitroom's consumer reads every CHECKOUT_* record on the shared broker, other tests'
    too, and makes one script call (finish.lua: SET, HGET, ZREM) for each: those are taken
    off, by the count of records it consumed meanwhile.
    """

    by_command: Counter[str]
    seconds: float
    consumed: int = 0

    @property
    def commands(self) -> int:
        """Every command, those scripts ran included."""
        return sum(self.by_command.values()) - FINISH_COMMANDS * self.consumed

    @property
    def calls(self) -> int:
        """What clients sent: script calls, and commands no script runs."""
        inside = script_commands() - SCRIPT_CALLS
        sent = sum(n for name, n in self.by_command.items() if name not in inside)
        return sent - self.consumed

    def per_second(self, commands: bool = False) -> float:
        count = self.commands if commands else self.calls
        return count / self.seconds if self.seconds else 0.0


@contextlib.asynccontextmanager
async def counted(meters: Meters) -> AsyncIterator[list[Rate]]:
    """The Redis commands served meanwhile; the list gets one Rate when the block ends."""
    out: list[Rate] = []
    consumed = await records_consumed(meters.metrics_port)
    before, started = await command_calls(meters.redis_url), time.monotonic()
    yield out
    after, seconds = await command_calls(meters.redis_url), time.monotonic() - started
    consumed = await records_consumed(meters.metrics_port) - consumed
    out.append(Rate(after - before, seconds, consumed))


def per_read(during: Rate, idle: Rate, reads: int) -> dict[str, Any]:
    """Calls and commands per read, the idle rate over the same time taken off."""
    calls = during.calls - idle.per_second() * during.seconds
    commands = during.commands - idle.per_second(commands=True) * during.seconds
    return {
        "redis_calls_per_read": round(max(calls, 0.0) / reads, 4),
        "redis_commands_per_read": round(max(commands, 0.0) / reads, 4),
        "redis_idle_calls_per_s": round(idle.per_second(), 1),
        "redis_idle_commands_per_s": round(idle.per_second(commands=True), 1),
        "redis_by_command": dict(during.by_command.most_common()),
        "kafka_records_taken_off": during.consumed,
    }


async def idle_rate(meters: Meters, seconds: float) -> Rate:
    """What the waitroom calls on its own (processor, relay, pulses, health) with no load."""
    async with counted(meters) as rate:
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
    """An event whose one checkout place someone took first, and `people` waiting behind."""
    channels = [grpc.aio.insecure_channel(target) for _ in range(JOIN_CHANNELS)]
    try:
        admin = events.Events(channels[0], made)
        await admin.create(event_id, room=1, batch=1, tickets=10 * people)
        await admin.join(event_id, ["front"])
        await room_taken(pb_grpc.AdminServiceStub(channels[0]), event_id)
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


async def room_taken(admin: pb_grpc.AdminServiceStub, event_id: str) -> None:
    """Waits until the processor has admitted the first person: nobody else is, afterwards
    (and their admission's rate has long faded when the streams open)."""
    request = pb.GetEventRequest(event_id=event_id)
    for _ in range(300):
        event = await admin.GetEvent(request, metadata=events.ADMIN, timeout=10)
        if event.processing_count >= 1:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"the processor admitted no one in {event_id}")


def place_ok(place: int, position: int) -> bool:
    """A status read's position against the place the person joined at (nobody ahead left or
    was admitted): exact in the first 1,000 places, within a twentieth further back."""
    return position == place if place <= 1000 else abs(position - place) <= place // 20
