"""What every service process does the same way: wait for its dependencies, run until SIGTERM."""

import asyncio
import gc
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

import grpc
import uvloop
from prometheus_client import CollectorRegistry

from common.process.grpc_server import Health, bind
from common.process.http import HttpServer
from common.process.readiness import Dependency, DependencyWatch
from common.process.resource import Resource
from common.process.settings import CommonSettings

logger = logging.getLogger(__name__)


class Service(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def run(main: Coroutine[Any, Any, None]) -> None:
    """Runs a process's main coroutine on uvloop, the faster event loop every service uses."""
    uvloop.run(main)


def freeze_startup_objects() -> None:
    """Keeps what startup made (modules, descriptors, clients) out of every later garbage
    collection: a full collection over those many objects stalls every call in flight, and
    under load one comes every few seconds."""
    gc.freeze()


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


class ServiceProcess(Resource):
    """A service process: gRPC with health and reflection plus an HTTP side port. It turns
    ready (health SERVING) once its dependencies answer, then runs its work until stopped;
    meanwhile its readiness follows the dependencies it watches (common.process.readiness).

    Subclasses build their parts, then provide connect(), watched(), work(), drain(), close().
    """

    name = "service"
    dependencies = "Redis and Kafka"

    def __init__(
        self,
        grpc_server: grpc.aio.Server,
        health: Health,
        http: HttpServer,
        settings: CommonSettings,
        port: int,
        shutdown_timeout: float,
        registry: CollectorRegistry,
    ) -> None:
        """settings: where gRPC binds (grpc_host), how long calls may drain (grpc_grace), how
        the dependencies are watched (health_*); registry: where their gauge goes."""
        self.grpc, self.health, self.http = grpc_server, health, http
        self.watch = DependencyWatch(
            health,
            settings.health_probe_interval.total_seconds(),
            settings.health_failure_window.total_seconds(),
            registry,
            self.name,
        )
        self._host, self._wanted_port = settings.grpc_host, port
        self._grace = settings.grpc_grace.total_seconds()
        self._shutdown_timeout = shutdown_timeout
        self.port = 0
        self._ready = asyncio.Event()
        self._running: asyncio.Task[None] | None = None
        self._stopped = False

    async def connect(self) -> None:
        raise NotImplementedError

    def watched(self) -> list[Dependency]:
        """What readiness follows once connected, and what is only reported."""
        return []

    async def work(self) -> None:
        raise NotImplementedError

    def end_streams(self) -> None:
        """SIGTERM, before the grace: ends the calls that would outlast it (streams), telling
        their clients to reconnect elsewhere."""

    async def drain(self) -> None:
        """Asks the work to finish (SIGTERM); the work then has shutdown_timeout to end."""

    async def close(self) -> None:
        """Closes the clients once the work has ended."""

    async def start(self) -> None:
        self.port = bind(self.grpc, self._host, self._wanted_port)
        await self.grpc.start()
        await self.health.start()
        await self.http.start()
        logger.info(
            "%s serving gRPC on %s:%s, HTTP on %s", self.name, self._host, self.port, self.http.port
        )
        self._running = asyncio.create_task(self._run())

    async def wait_ready(self) -> None:
        await self._ready.wait()

    async def _run(self) -> None:
        await wait_for(self.connect, self.dependencies)
        freeze_startup_objects()
        await self.health.set_ready(True)
        self._ready.set()
        logger.info("%s connected to %s; ready", self.name, self.dependencies)
        await asyncio.gather(self.work(), self.watch.run(self.watched()))

    async def stop(self) -> None:
        """NOT_SERVING, drain gRPC calls, let the work finish, close the clients (once)."""
        if self._stopped:
            return
        self._stopped = True
        self.watch.stop()  # before NOT_SERVING, which it would otherwise turn back
        await self.health.set_ready(False)
        self.end_streams()
        await self.grpc.stop(self._grace)
        if self._running is not None:
            if self._ready.is_set():
                await self.drain()
            else:  # still waiting for dependencies: nothing to drain
                self._running.cancel()
            done, _ = await asyncio.wait({self._running}, timeout=self._shutdown_timeout)
            if not done:
                logger.warning("%s work did not end within its shutdown timeout", self.name)
                self._running.cancel()
            await asyncio.gather(self._running, return_exceptions=True)
        await self.close()
        await self.http.stop()
        logger.info("%s stopped", self.name)
