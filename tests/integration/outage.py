"""A throwaway redis-server of a test's own, to kill and start again (a dependency outage)."""

import asyncio
import signal
import time
from pathlib import Path

import pytest
from redis.asyncio import Redis

# Nobody else's: the shared Redis is 6379, the cluster 7000-7005.
OUTAGE_PORT = 6395


class ThrowawayRedis:
    """redis-server on OUTAGE_PORT, durable on every write, so a restart keeps everything."""

    def __init__(self, directory: Path, port: int = OUTAGE_PORT) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self._directory = directory
        self._process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self._process = await asyncio.create_subprocess_exec(
            "redis-server",
            "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "yes", "--appendfsync", "always",
            "--dir", str(self._directory),
            stdout=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        client = Redis(port=self.port)
        deadline = time.monotonic() + 10
        try:
            while True:
                try:
                    await client.ping()
                    return
                except Exception:
                    if time.monotonic() > deadline or self._process.returncode is not None:
                        pytest.fail(f"redis-server did not start on {self.port}")
                    await asyncio.sleep(0.05)
        finally:
            await client.aclose()

    async def kill(self) -> None:
        """kill -9: the clients' connections drop, new ones are refused."""
        if self._process is not None:
            self._process.kill()
            await self._process.wait()
            self._process = None

    def pause(self) -> None:
        """SIGSTOP: connections stay open and nothing answers (a hung or failing-over node)."""
        assert self._process is not None
        self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self._process is not None
        self._process.send_signal(signal.SIGCONT)
