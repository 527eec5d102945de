"""What every service process does the same way: wait for its dependencies, run until SIGTERM."""

import asyncio
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

logger = logging.getLogger(__name__)


class Service(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def now_ms() -> int:
    return time.time_ns() // 1_000_000


async def wait_for(connect: Callable[[], Awaitable[object]], what: str) -> None:
    """Retries connect with backoff (0.5 s doubling to 10 s) until it succeeds."""
    delay = 0.5
    while True:
        try:
            await connect()
            return
        except Exception as error:  # any failure means "not there yet"
            logger.warning("waiting for %s: %r", what, error)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10)


async def run_until_signal(service: Service) -> None:
    """Starts the service and stops it gracefully on SIGTERM or SIGINT."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await service.start()
    await stopping.wait()
    logger.info("shutting down")
    await service.stop()
