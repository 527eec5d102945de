"""Readiness that follows the dependencies: a cheap probe of each every interval.

A dependency that gates readiness (Redis: every call needs it) turns the standard health
NOT_SERVING once its probes have failed for a whole window, and SERVING again at its first
success; a short blip changes nothing. Others (Kafka: the outboxes hold what it has not
taken yet) are only reported. Liveness never depends on any of them.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Gauge

from common.process.grpc_server import Health

logger = logging.getLogger(__name__)
Probe = Callable[[], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class Dependency:
    name: str
    probe: Probe  # raises (or takes longer than the window) when the dependency is away
    gates_readiness: bool


def redis_and_kafka(redis: Probe, kafka: Probe) -> list[Dependency]:
    """Every service's: Redis gates readiness; Kafka is reported, since the outboxes (and a
    paused consumer) wait for it while the calls go on."""
    return [Dependency("redis", redis, True), Dependency("kafka", kafka, False)]


class FailureWindow:
    """Whether one dependency counts as down: failing since at least `window` seconds."""

    def __init__(self, window: float) -> None:
        self._window = window
        self._failing_since: float | None = None

    def observe(self, ok: bool, started: float) -> None:
        """A probe that began at `started` (monotonic seconds) passed or failed."""
        if ok:
            self._failing_since = None
        elif self._failing_since is None:
            self._failing_since = started

    def down(self, now: float) -> bool:
        return self._failing_since is not None and now - self._failing_since >= self._window


class DependencyWatch:
    def __init__(
        self,
        health: Health,
        interval: float,
        window: float,
        registry: CollectorRegistry,
        service: str,
    ) -> None:
        self._health = health
        self._interval, self._window = interval, window
        self._stopping = asyncio.Event()
        self._up = Gauge(
            f"{service}_dependency_up",
            "1 while the dependency answers its probe, 0 while it does not",
            ["dependency"],
            registry=registry,
            multiprocess_mode="livemin",
        )

    async def run(self, dependencies: Sequence[Dependency]) -> None:
        """Probes every interval until stop(); health starts out ready (just connected)."""
        windows = {d.name: FailureWindow(self._window) for d in dependencies}
        ready = True
        while not self._stopping.is_set():
            started = time.monotonic()
            passed = await asyncio.gather(*(self._passes(d) for d in dependencies))
            for dependency, ok in zip(dependencies, passed, strict=True):
                windows[dependency.name].observe(ok, started)
                self._up.labels(dependency.name).set(1 if ok else 0)
            now = time.monotonic()
            down = [d.name for d in dependencies if d.gates_readiness and windows[d.name].down(now)]
            if ready == bool(down) and not self._stopping.is_set():
                ready = not down
                await self._turn(ready, down)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._interval)

    def stop(self) -> None:
        self._stopping.set()

    async def _turn(self, ready: bool, down: list[str]) -> None:
        await self._health.set_ready(ready)
        if ready:
            logger.info("dependencies answer again: SERVING")
        else:
            logger.error("NOT_SERVING: %s away for %.1f s", ", ".join(down), self._window)

    async def _passes(self, dependency: Dependency) -> bool:
        try:
            async with asyncio.timeout(self._window):
                await dependency.probe()
        except Exception as error:  # any failure, a timeout too, means "away"
            logger.debug("probe of %s failed: %r", dependency.name, error)
            return False
        return True
