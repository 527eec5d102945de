"""The servers the bench starts on ports of its own: the bare server and waitroom instances."""

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
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
    pid: int  # the process the bench started (the serving processes are it or its children)


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


@dataclass(frozen=True, slots=True)
class Spec:
    name: str
    command: list[str]
    env: dict[str, str]
    port: int
    expected: int  # processes it should serve with
    cwd: Path = ROOT  # another checkout's root: its code (with its own .venv's python)


@contextmanager
def launched(*specs: Spec) -> Iterator[list[Served]]:
    """Starts the servers together, waits until each serves, stops them all at the end."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    processes = [start(spec) for spec in specs]
    try:
        yield [ready(spec, process) for spec, process in zip(specs, processes, strict=True)]
    finally:
        for process in processes:
            stop(process)


def start(spec: Spec) -> subprocess.Popen[bytes]:
    with (LOG_DIR / f"{spec.name}-{spec.port}.log").open("ab") as log:
        return subprocess.Popen(
            spec.command, cwd=spec.cwd, env={**os.environ, **spec.env}, stdout=log, stderr=log
        )


def ready(spec: Spec, process: subprocess.Popen[bytes]) -> Served:
    """Waits until the server answers SERVING with `expected` processes (or 5 s more)."""
    target = f"127.0.0.1:{spec.port}"
    deadline = time.monotonic() + 60
    while not serving(target):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{spec.name} on {target} did not start; see {LOG_DIR}")
        time.sleep(0.2)
    settle = time.monotonic() + 5
    while len(listening_pids(spec.port)) < spec.expected and time.monotonic() < settle:
        time.sleep(0.2)
    return Served(target, len(listening_pids(spec.port)), process.pid)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def bare(port: int, processes: int) -> Spec:
    command = [sys.executable, "-m", "bench.bare_server", str(port), str(processes)]
    return Spec("bare", command, {}, port, processes)


def floor(port: int, processes: int, redis_url: str) -> Spec:
    """The bare server making one Redis script call per request: what any stateful call costs."""
    command = [sys.executable, "-m", "bench.bare_server", str(port), str(processes)]
    return Spec("floor", [*command, "--redis", redis_url], {}, port, processes)


def waitroom(port: int, metrics_port: int, processes: int) -> Spec:
    """A waitroom of the bench's own: serves the API, relays its outbox, admits no one."""
    env = {
        "WAITROOM_GRPC_PORT": str(port),
        "WAITROOM_METRICS_PORT": str(metrics_port),
        "QUEUE_PROCESSOR_ENABLED": "false",
        "WAITROOM_CONSUMER_GROUP": f"bench-{uuid.uuid4().hex[:8]}",
        "KAFKA_OFFSET_RESET": "latest",
        "WAITROOM_SERVING_PROCESSES": str(processes),
        "LOG_LEVEL": "WARNING",
        "GRPC_GRACE": "2s",
    }
    expected = processes if waitroom_supports_processes() else 1
    return Spec("waitroom", [sys.executable, "-m", "waitroom"], env, port, expected)
