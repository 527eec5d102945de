"""The queue processor: every interval, one atomic admission cycle per event, then the relay."""

import asyncio
import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from common.process.retry import with_retries
from waitroom.metrics import WaitroomMetrics
from waitroom.models import ADMIT_STEP, AdmissionResult, ProcessorConfig
from waitroom.relay_schedule import Relay, RelaySchedule, nap

logger = logging.getLogger(__name__)
# Hints to the other replicas (see QueueProcessor.hear): admit now; help relay an event.
ADMIT_HINT = "admit"
RELAY_HINT = "relay"


class AdmissionStore(Protocol):
    async def event_ids(self) -> list[str]: ...

    async def admit(
        self, event_id: str, step_id: str, now_ms: int, ttl_s: int, already: int, limit: int
    ) -> AdmissionResult: ...


@dataclass(slots=True)
class ProcessorStatus:
    running: bool = False
    started_at: float = 0.0
    last_processed: float = 0.0
    total_admitted: int = 0
    error_count: int = 0


class QueueProcessor:
    def __init__(
        self,
        store: AdmissionStore,
        relay: Relay,
        config: ProcessorConfig,
        metrics: WaitroomMetrics,
        instance_id: str,
        clock_ms: Callable[[], int],
        tell: Callable[[str], None] = lambda hint: None,
        admitted: Callable[[str], None] = lambda event_id: None,
    ) -> None:
        """tell(hint): sends a hint to every other replica's processor (their `hear`);
        admitted(event_id): told after a step that admitted someone (watchers must hear)."""
        self._store = store
        self._config = config
        self._metrics = metrics
        self._instance = instance_id
        self._now = clock_ms
        self._tell = tell
        self._admitted = admitted
        self._cycle = 0
        self._stopping = asyncio.Event()
        self._admit_wanted = asyncio.Event()
        self._relays = RelaySchedule(
            relay, config, self._events, self._stopping, lambda e: self._count_error(e, "relay")
        )
        self.status = ProcessorStatus()

    def relay_soon(self, event_id: str) -> None:
        self._relays.soon(event_id)

    def relay_later(self, event_id: str) -> None:
        self._relays.later(event_id)

    async def relay_all(self) -> int:
        return await self._relays.relay_all()

    async def run(self, admit: bool = True) -> None:
        """Relays the outbox every interval and, when `admit`, admits every interval too.

        The two loops are independent, so a stalled Kafka never stalls the line, and a
        replica that does not admit (QUEUE_PROCESSOR_ENABLED=false) still relays its joins.
        """
        self.status.running, self.status.started_at = admit, time.time()
        logger.info("queue processor started (instance %s, admitting: %s)", self._instance, admit)
        loops = [self._relays.run()]
        if admit:
            loops.append(self._every_interval(self.run_cycle, self._admit_wanted))
        try:
            await asyncio.gather(*loops)
        finally:
            self.status.running = False
            logger.info("queue processor stopped")

    async def _every_interval(
        self, step: Callable[[], Awaitable[int]], wake: asyncio.Event
    ) -> None:
        """Runs step every interval; `wake` starts the next one at once (and the interval anew)."""
        while not self._stopping.is_set():
            started = time.monotonic()
            wake.clear()
            await step()
            await nap(self._stopping, self._config.interval - (time.monotonic() - started), wake)

    def admit_soon(self) -> None:
        """An event opened or resumed: its first batch goes now, here and on every replica."""
        self._admit_wanted.set()
        self._tell(ADMIT_HINT)

    def hear(self, hint: str) -> None:
        """Another replica's hint: an event opened, or an event has many entries to relay."""
        kind, _, event_id = hint.partition(" ")
        if kind == ADMIT_HINT:
            self._admit_wanted.set()
        elif kind == RELAY_HINT and event_id:
            self._relays.hinted(event_id)

    def stop(self) -> None:
        self._stopping.set()

    async def run_cycle(self) -> int:
        """One admission per event; a failing event is counted and skipped."""
        self._cycle += 1
        cycle_id = f"{self._instance}:{self._cycle}"
        started = time.monotonic()
        admitted = 0
        for event_id in await self._events():
            if time.monotonic() - started > self._config.max_processing_duration:
                logger.warning("cycle %s hit QUEUE_MAX_PROCESSING_DURATION; rest waits", cycle_id)
                break
            admitted += await self._admit(event_id, cycle_id)
        self.status.last_processed = time.time()
        self.status.total_admitted += admitted
        self._metrics.cycle_seconds.observe(time.monotonic() - started)
        return admitted

    async def _events(self) -> list[str]:
        try:
            return await self._store.event_ids()
        except Exception:
            logger.exception("could not list events")
            self._count_error("", "list")
            return []

    async def _admit(self, event_id: str, cycle_id: str) -> int:
        """Admits the event's batch in steps of ADMIT_STEP; the relay starts after the first."""
        started = time.monotonic()
        admitted = 0
        for step in itertools.count():
            result = await self._admit_step(event_id, f"{cycle_id}.{step}", admitted)
            if result is None:
                break
            self._record(event_id, result)
            before, admitted = admitted, admitted + result.admitted
            if result.admitted:
                self.relay_soon(event_id)
                self._admitted(event_id)
            if before < ADMIT_STEP <= admitted:
                # signing thousands of tokens takes a while: every replica's relay shares them
                self._tell(f"{RELAY_HINT} {event_id}")
            if result.admitted < ADMIT_STEP:
                break
        self._metrics.event_cycle_seconds.labels(event_id).observe(time.monotonic() - started)
        return admitted

    async def _admit_step(
        self, event_id: str, step_id: str, already: int
    ) -> AdmissionResult | None:
        ttl_s = self._config.session_ttl_seconds
        try:
            return await with_retries(
                lambda: self._store.admit(
                    event_id, step_id, self._now(), ttl_s, already, ADMIT_STEP
                ),
                attempts=self._config.retry_attempts,
                base_delay=self._config.retry_delay,
                what=f"admission for {event_id}",
            )
        except Exception:
            logger.exception("admission failed for event %s; skipped this cycle", event_id)
            self._count_error(event_id, "admit")
            return None

    def _record(self, event_id: str, result: AdmissionResult) -> None:
        self._metrics.admitted.labels(event_id).inc(result.admitted)
        self._metrics.reaped.labels(event_id).inc(result.reaped)
        self._metrics.queue_length.labels(event_id).set(result.queue_length)
        self._metrics.processing.labels(event_id).set(result.processing)
        if result.admitted:
            logger.info(
                "admitted %s to checkout for event %s (%s waiting, %s in checkout)",
                result.admitted,
                event_id,
                result.queue_length,
                result.processing,
            )

    def _count_error(self, event_id: str, step: str) -> None:
        self.status.error_count += 1
        self._metrics.errors.labels(event_id, step).inc()
