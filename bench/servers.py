"""The servers the bench starts on ports of its own: the bare server and waitroom instances."""

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

ROOT = Path(__file__).resolve().parents[1]
LOG_DIR = ROOT / "bench/results/tmp"


@dataclass(frozen=True, slots=True)
class Served:
    target: str
    processes: int  # how many processes listen on the port, as the kernel sees it


def waitroom_supports_processes() -> bool:
    """Whether the waitroom has the WAITROOM_SERVING_PROCESSES setting yet."""
    config = ROOT / "services/waitroom/config.py"
    return "serving_processes" in config.read_text()


def listening_pids(port: int) -> set[int]:
    out = subprocess.run(
        ["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True, check=False
    ).stdout
    return {int(pid) for pid in re.findall(r"pid=(\d+)", out)}


def serving(target: str) -> bool:
    try:
        with grpc.insecure_channel(target) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
            return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)
    except grpc.RpcError:
        return False


@contextmanager
def launched(
    name: str, command: list[str], env: dict[str, str], port: int, expected: int
) -> Iterator[Served]:
    """Starts a server, waits until it serves with `expected` processes (or 5 s), stops it."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    target = f"127.0.0.1:{port}"
    with (LOG_DIR / f"{name}-{port}.log").open("ab") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env={**os.environ, **env}, stdout=log, stderr=log
        )
    try:
        deadline = time.monotonic() + 60
        while not serving(target):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} on {target} did not start; see {log.name}")
            time.sleep(0.2)
        settle = time.monotonic() + 5
        while len(listening_pids(port)) < expected and time.monotonic() < settle:
            time.sleep(0.2)
        yield Served(target, len(listening_pids(port)))
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def bare(port: int, processes: int) -> AbstractContextManager[Served]:
    command = [sys.executable, "-m", "bench.bare_server", str(port), str(processes)]
    return launched("bare", command, {}, port, processes)


def waitroom(port: int, metrics_port: int, processes: int) -> AbstractContextManager[Served]:
    """A waitroom of the bench's own: serves the API, relays its outbox, admits no one."""
    env = {
        "WAITROOM_GRPC_PORT": str(port),
        "WAITROOM_METRICS_PORT": str(metrics_port),
        "QUEUE_PROCESSOR_ENABLED": "false",
        "WAITROOM_CONSUMER_GROUP": f"bench-{uuid.uuid4().hex[:8]}",
        "KAFKA_OFFSET_RESET": "latest",
        "WAITROOM_SERVING_PROCESSES": str(processes),
        "LOG_LEVEL": "WARNING",
    }
    expected = processes if waitroom_supports_processes() else 1
    return launched("waitroom", [sys.executable, "-m", "waitroom"], env, port, expected)
