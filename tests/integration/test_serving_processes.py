"""`python -m waitroom` with two serving processes: one killed with kill -9 is replaced while
the other keeps answering, and the replacement takes over the HTTP port it held."""

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import aiohttp
import grpc
import pytest

from common.process.grpc_server import health_of
from tests.integration.conftest import ADMIN, KAFKA, REDIS_URL
from tests.unit.test_workers import workers_of
from waitroomapi.waitroom.v1 import waitroom_pb2 as pb
from waitroomapi.waitroom.v1 import waitroom_pb2_grpc as pb_grpc

ROOT = Path(__file__).resolve().parents[2]
# Nobody else's: the stack has 50051-50053, 50061, 9101-9103 and 9111.
GRPC_PORT, HTTP_PORT = 50071, 9121
TARGET = f"127.0.0.1:{GRPC_PORT}"
RESTARTS = "waitroom_serving_process_restarts_total"


def environment(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "WAITROOM_SERVING_PROCESSES": "2",
        "WAITROOM_GRPC_PORT": str(GRPC_PORT),
        "WAITROOM_METRICS_PORT": str(HTTP_PORT),
        "REDIS_URL": REDIS_URL,
        "KAFKA_BOOTSTRAP_SERVERS": KAFKA,
        "KAFKA_OFFSET_RESET": "latest",
        "WAITROOM_CONSUMER_GROUP": f"waitroom-it-{uuid.uuid4().hex[:8]}",
        "WAITROOM_ADMIN_TOKEN": "test-admin-token",
        "WAITROOM_SIGNING_KEY_FILE": str(tmp_path / "signing.pem"),
        "QUEUE_PROCESS_INTERVAL": "100ms",
        "QUEUE_SHUTDOWN_TIMEOUT": "5s",
        "GRPC_GRACE": "1s",
        "LOG_FORMAT": "text",
    }


def http_listener(port: int) -> int | None:
    """The pid of the process that listens on 127.0.0.1:port (read from /proc)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1].endswith(f":{port:04X}") and fields[3] == "0A":  # LISTEN
            inodes.add(f"socket:[{fields[9]}]")
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        try:
            if inodes & {os.readlink(f) for f in Path(f"/proc/{pid}/fd").iterdir()}:
                return int(pid)
        except (FileNotFoundError, PermissionError, OSError):
            continue
    return None


async def until(condition, within: float = 60.0):
    deadline = time.monotonic() + within
    while not (found := await condition()):
        assert time.monotonic() < deadline, "gave up waiting"
        await asyncio.sleep(0.2)
    return found


async def http_get(path: str) -> str | None:
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.get(
                f"http://127.0.0.1:{HTTP_PORT}{path}", timeout=aiohttp.ClientTimeout(3)
            ) as r,
        ):
            return await r.text() if r.status == 200 else None
    except aiohttp.ClientError:
        return None


def restarts_in(metrics: str) -> float:
    return next(
        float(line.split()[-1]) for line in metrics.splitlines() if line.startswith(RESTARTS)
    )


class Load:
    """JoinQueue calls through a few channels, one after another on each; counted by code."""

    def __init__(self, event_id: str) -> None:
        self.codes: Counter[str] = Counter()
        self._event_id = event_id
        self._running = True

    async def run(self, channels: int = 4) -> None:
        await asyncio.gather(*(self._one(n) for n in range(channels)))

    async def _one(self, n: int) -> None:
        async with grpc.aio.insecure_channel(TARGET) as channel:
            stub, calls = pb_grpc.WaitroomServiceStub(channel), 0
            while self._running:
                calls += 1
                request = pb.JoinQueueRequest(user_id=f"u{n}-{calls}", event_id=self._event_id)
                try:
                    await stub.JoinQueue(request, timeout=5)
                    self.codes["OK"] += 1
                except grpc.aio.AioRpcError as error:
                    self.codes[error.code().name] += 1
                    await asyncio.sleep(0.05)

    def stop(self) -> None:
        self._running = False

    def answered_more_than(self, count: int):
        async def check() -> bool:
            return self.codes["OK"] > count

        return check


@pytest.fixture
def supervisor(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "waitroom"], cwd=ROOT, env=environment(tmp_path)
    )
    yield process
    if process.poll() is None:
        process.kill()
        process.wait()


async def test_a_serving_process_killed_is_replaced_while_the_other_keeps_serving(
    supervisor, event_id
):
    await until(lambda: asyncio.to_thread(lambda: health_of(TARGET) == "SERVING"))
    await until(lambda: http_get("/metrics"))
    async with grpc.aio.insecure_channel(TARGET) as channel:
        await pb_grpc.AdminServiceStub(channel).CreateEvent(
            pb.CreateEventRequest(event_id=event_id, max_concurrent=10), metadata=ADMIN
        )
    workers = workers_of(supervisor.pid)
    holder = http_listener(HTTP_PORT)
    assert len(workers) == 2
    assert str(holder) in workers  # one of the two serves HTTP; the supervisor never listens
    load = Load(event_id)
    running = asyncio.create_task(load.run())
    await until(load.answered_more_than(20))
    os.kill(holder, signal.SIGKILL)
    answered_before = load.codes["OK"]

    async def replaced() -> bool:
        now = workers_of(supervisor.pid)
        return len(now) == 2 and str(holder) not in now

    await until(replaced)
    await until(load.answered_more_than(answered_before + 50))
    metrics = await until(lambda: http_get("/metrics"))
    jwks = await until(lambda: http_get("/.well-known/jwks.json"))
    load.stop()
    await running
    print("calls by code across the kill:", dict(load.codes))
    survivor = next(w for w in workers if w != str(holder))
    assert survivor in workers_of(supervisor.pid)  # the other one was never stopped
    assert http_listener(HTTP_PORT) not in (None, holder)  # the replacement took the port over
    assert restarts_in(metrics) == 1
    assert '"keys"' in jwks
    assert set(load.codes) <= {"OK", "UNAVAILABLE"}  # refused at worst, never left hanging
    assert health_of(TARGET) == "SERVING"
    supervisor.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(supervisor.wait, 60) == 0
