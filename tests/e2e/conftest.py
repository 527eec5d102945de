"""End-to-end helpers: the running stack (`make up`), grpcurl, Kafka's console consumer."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GRPCURL = os.environ.get("GRPCURL", str(ROOT / ".cache/bin/grpcurl"))
ADMIN_TOKEN = os.environ.get("WAITROOM_ADMIN_TOKEN", "dev-admin-token")


class GrpcError(Exception):
    pass


def grpcurl(method: str, data: dict, port: int = 50051, admin: bool = False) -> dict:
    args = [GRPCURL, "-plaintext", "-max-time", "10", "-d", json.dumps(data)]
    if admin:
        args += ["-H", f"authorization: Bearer {ADMIN_TOKEN}"]
    done = subprocess.run([*args, f"127.0.0.1:{port}", method], capture_output=True, text=True)
    if done.returncode != 0:
        raise GrpcError(done.stderr.strip())
    return json.loads(done.stdout or "{}")


def consume(topic: str, timeout_ms: int = 4000) -> list[dict]:
    """Every message of a topic, read from the beginning with Kafka's own console consumer."""
    done = subprocess.run(
        [str(ROOT / "infra/kafka.sh"), "consume", topic, "--timeout-ms", str(timeout_ms)],
        capture_output=True,
        text=True,
        errors="replace",
        timeout=120,
    )
    messages = []
    for line in done.stdout.splitlines():
        start = line.find("{")
        try:
            message = json.loads(line[start:]) if start >= 0 else None
        except ValueError:  # poison that tests publish on purpose
            continue
        if isinstance(message, dict):
            messages.append(message)
    return messages


def wait_for_messages(topic: str, predicate, count: int, timeout: float = 90) -> list[dict]:
    deadline = time.monotonic() + timeout
    found: list[dict] = []
    while time.monotonic() < deadline:
        found = [m for m in consume(topic) if predicate(m)]
        if len({m.get("message_id") for m in found}) >= count:
            break
    return found


def jwks(port: int = 9101) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/.well-known/jwks.json", timeout=5) as r:
        return json.loads(r.read())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def event_id() -> str:
    return f"e2e-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session", autouse=True)
def stack_is_up():
    try:
        grpcurl("grpc.health.v1.Health/Check", {"service": ""})
    except (GrpcError, FileNotFoundError) as error:
        pytest.fail(f"the stack is not running (run `make up`): {error}")


class Replica:
    """An extra waitroom process with its own ports, for drills that kill or double it."""

    def __init__(self, log: Path, **env: str) -> None:
        self.port, self.metrics_port = free_port(), free_port()
        self.env = {
            **os.environ,
            "WAITROOM_GRPC_PORT": str(self.port),
            "WAITROOM_METRICS_PORT": str(self.metrics_port),
            "WAITROOM_ADMIN_TOKEN": ADMIN_TOKEN,
            "QUEUE_PROCESS_INTERVAL": "100ms",
            **env,
        }
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> "Replica":
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "waitroom"], env=self.env, stdout=out, stderr=out, cwd=ROOT
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if grpcurl("grpc.health.v1.Health/Check", {}, self.port).get("status") == "SERVING":
                    return self
            except GrpcError:
                pass
            assert self.process.poll() is None, self.log.read_text()[-2000:]
            time.sleep(0.3)
        raise AssertionError(f"replica not ready: {self.log.read_text()[-2000:]}")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=60)


@pytest.fixture
def replicas(tmp_path):
    started: list[Replica] = []
    # Drill replicas use Redis databases of their own, and a consumer group of their own.
    group = f"waitroom-e2e-{uuid.uuid4().hex[:8]}"

    def make(**env: str) -> Replica:
        env.setdefault("WAITROOM_CONSUMER_GROUP", group)
        replica = Replica(tmp_path / f"replica-{len(started)}.log", **env)
        started.append(replica)
        return replica

    yield make
    for replica in started:
        replica.kill(signal.SIGTERM)
