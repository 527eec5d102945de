"""The cluster stack seen from outside: who runs where, and the scripts that start and stop it."""

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REDIS_URL = os.environ.get(
    "CLUSTER_REDIS_URL", "redis+cluster://127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002/0"
)
KAFKA = os.environ.get(
    "CLUSTER_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9192,127.0.0.1:9193,127.0.0.1:9194"
)
WAITROOMS = ("127.0.0.1:50051", "127.0.0.1:50061")
CHECKOUT, STATS = "127.0.0.1:50052", "127.0.0.1:50053"


@dataclass(frozen=True)
class Status:
    redis: list[dict]
    kafka: list[dict]
    services: list[dict]

    def redis_primaries(self) -> list[dict]:
        return [n for n in self.redis if n["role"] == "primary" and n["pid"]]

    def broker(self, controller: str | None = None) -> dict:
        """A live broker, the controller leader when asked for one."""
        live = [b for b in self.kafka if b["pid"] and b["state"] == "up"]
        wanted = [b for b in live if controller is None or b["controller"] == controller]
        return (wanted or live)[0]

    def service(self, name: str) -> dict:
        return next(s for s in self.services if s["name"] == name)


def run(*args: str, check: bool = True, timeout: float = 300) -> str:
    """A script of the stack (infra/, scripts/), from the repository's root."""
    env = {**os.environ, "STACK": "cluster"}
    done = subprocess.run(
        args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {done.stdout[-1500:]}{done.stderr[-1500:]}")
    return done.stdout


async def arun(*args: str, check: bool = True, seconds: float = 300) -> str:
    return await asyncio.to_thread(run, *args, check=check, timeout=seconds)


async def status() -> Status:
    document = json.loads(await arun("scripts/cluster.sh", "status", "--json", check=False))
    return Status(document["redis"], document["kafka"], document["services"])


def kill(pid: int, sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, IndexError):
        return True


async def kill_and_wait(pid: int, sig: int = signal.SIGKILL, within: float = 30) -> None:
    kill(pid, sig)
    deadline = time.monotonic() + within
    while not gone(pid) and time.monotonic() < deadline:  # noqa: ASYNC110 (another process)
        await asyncio.sleep(0.05)


def children(pid: int) -> list[int]:
    """The processes whose parent is pid (a supervisor's serving processes)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as found:
            return [int(p) for p in found.read().split()]
    except FileNotFoundError:
        return []


def serving_processes(pid: int) -> list[int]:
    """A supervisor's live serving processes (spawned workers, not multiprocessing's tracker)."""
    found = []
    for child in children(pid):
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes()
        except FileNotFoundError:
            continue
        if b"spawn_main" in command and not gone(child):
            found.append(child)
    return found


def rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status_file:
            line = next(x for x in status_file if x.startswith("VmRSS:"))
        return int(line.split()[1])
    except (FileNotFoundError, StopIteration):
        return 0


async def restart_service(name: str) -> None:
    await arun("scripts/stack.sh", "start", name)


async def start_redis_node(port: int) -> None:
    await arun("infra/redis-cluster.sh", "start", str(port))


async def redis_up() -> None:
    await arun("infra/redis-cluster.sh", "up")


async def start_broker(node_id: int) -> None:
    await arun("infra/kafka-cluster.sh", "start", str(node_id))


async def kafka_up() -> None:
    await arun("infra/kafka-cluster.sh", "up")
