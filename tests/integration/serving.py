"""`python -m waitroom` as a subprocess of a test, one serving process (as in a pod), on the
ports of the streams tests (gRPC 52400-52499, HTTP 9220-9239): to stop with SIGTERM, kill, or
replace with a new one on the same port, as a rolling deploy does."""

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

from common.process.grpc_server import health_of
from tests.integration.conftest import KAFKA, REDIS_URL

ROOT = Path(__file__).resolve().parents[2]


class Serving:
    def __init__(self, tmp_path: Path, grpc_port: int, http_port: int, **settings: str) -> None:
        """settings: environment variables over these defaults (QUEUE_PROCESS_INTERVAL=...)."""
        self.target = f"127.0.0.1:{grpc_port}"
        self.name = f"streams-{grpc_port}"
        self.env = {
            **os.environ,
            "WAITROOM_SERVING_PROCESSES": "1",
            "WAITROOM_GRPC_PORT": str(grpc_port),
            "WAITROOM_METRICS_PORT": str(http_port),
            "REDIS_URL": REDIS_URL,
            "KAFKA_BOOTSTRAP_SERVERS": KAFKA,
            "KAFKA_OFFSET_RESET": "latest",
            "WAITROOM_ADMIN_TOKEN": "test-admin-token",
            # one deployment: the same signing key and consumer group for every process
            "WAITROOM_SIGNING_KEY_FILE": str(tmp_path / "signing.pem"),
            "WAITROOM_CONSUMER_GROUP": f"waitroom-it-{tmp_path.name}",
            "QUEUE_PROCESS_INTERVAL": "200ms",
            "QUEUE_SHUTDOWN_TIMEOUT": "5s",
            "GRPC_GRACE": "60s",
            "LOG_FORMAT": "text",
            **settings,
        }
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0
        self.terminated_at = 0.0

    async def start(self, within: float = 60) -> "Serving":
        """A new process (the old one, if any, must have ended); returns once it is SERVING."""
        self.starts += 1
        self.env["WAITROOM_INSTANCE_ID"] = f"{self.name}-{self.starts}"
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "waitroom", cwd=ROOT, env=self.env
        )
        deadline = time.monotonic() + within
        while await asyncio.to_thread(health_of, self.target, 1.0) != "SERVING":
            assert self.process.returncode is None, f"{self.name} exited: {self.process.returncode}"
            assert time.monotonic() < deadline, f"{self.name} not SERVING after {within} s"
            await asyncio.sleep(0.2)
        return self

    def terminate(self) -> None:
        """SIGTERM, as Kubernetes sends a pod that it replaces."""
        assert self.process is not None
        self.terminated_at = time.monotonic()
        self.process.send_signal(signal.SIGTERM)

    async def exited(self, within: float) -> tuple[int, float]:
        """The exit code, and the seconds from SIGTERM to the exit."""
        assert self.process is not None
        code = await asyncio.wait_for(self.process.wait(), within)
        return code, time.monotonic() - self.terminated_at

    async def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
