"""The queue processor: every interval, one atomic admission cycle per event, then the relay."""

import asyncio
import functools
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from common.process.retry import with_retries
from waitroom.metrics import WaitroomMetrics
from waitroom.models import ADMIT_STEP, AdmissionResult

logger = logging.getLogger(__name__)

# A woken relay waits this long for more entries, so a busy line is relayed in batches
# (one Redis read and one Kafka send per batch) while an admission (QUEUE_READY, which checkout
# waits for) still leaves within ~20 ms.
RELAY_LINGER_SECONDS = 0.02
# Joins and leaves only feed statistics: they wait longer, so a crowd's QUEUE_JOINED go in
# batches of hundreds (fewer outbox reads, Kafka sends and stats fetches per join). An
# admission arriving meanwhile ends the wait.
QUIET_LINGER_SECONDS = 0.1
# Hints to the other replicas (see QueueProcessor.hear): admit now; help relay an event.
ADMIT_HINT = "admit"
RELAY_HINT = "relay"


class AdmissionStore(Protocol):
    async def event_ids(self) -> list[str]: ...

    async def admit(
        self, event_id: str, step_id: str, now_ms: int, ttl_s: int, already: int, limit: int
    ) -> AdmissionResult: ...


class Relay(Protocol):
    async def pending(self, event_ids: Sequence[str]) -> list[str]: ...

    async def relay(self, event_id: str, max_batches: int = 50) -> int: ...


@dataclass(frozen=True, slots=True)
class ProcessorConfig:
    interval: float
    session_ttl_seconds: int
    retry_attempts: int
    retry_delay: float
    max_processing_duration: float


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
    ) -> None:
        """tell(hint): sends a hint to every other replica's processor (their `hear`)."""
        self._store = store
        self._relay = relay
        self._config = config
        self._metrics = metrics
        self._instance = instance_id
        self._now = clock_ms
        self._tell = tell
        self._cycle = 0
        self._stopping = asyncio.Event()
        self._relay_wanted = asyncio.Event()
        self._relay_urgent = asyncio.Event()  # an admission (or a hint) waits to be relayed
        self._admit_wanted = asyncio.Event()
        self._relay_events: set[str] = set()  # events whose outbox has new entries
        self._relay_failed: set[str] = set()  # events whose relay failed since the full pass
        self._relay_hinted: set[str] = set()  # asked by another replica: maybe empty here
        self.status = ProcessorStatus()

    async def run(self, admit: bool = True) -> None:
        """Relays the outbox every interval and, when `admit`, admits every interval too.

        The two loops are independent, so a stalled Kafka never stalls the line, and a
        replica that does not admit (QUEUE_PROCESSOR_ENABLED=false) still relays its joins.
        """
        self.status.running, self.status.started_at = admit, time.time()
        logger.info("queue processor started (instance %s, admitting: %s)", self._instance, admit)
        loops = [self._relay_loop()]
        if admit:
            loops.append(self._every_interval(self.run_cycle, self._admit_wanted))
        try:
            await asyncio.gather(*loops)
        finally:
            self.status.running = False
            logger.info("queue processor stopped")

    async def _every_interval(
        self, step: Callable[[], Awaitable[int]], wake: asyncio.Event | None = None
    ) -> None:
        """Runs step every interval; `wake` starts the next one at once (and the interval anew)."""
        while not self._stopping.is_set():
            started = time.monotonic()
            if wake is not None:
                wake.clear()
            await step()
            await self._sleep(self._config.interval - (time.monotonic() - started), wake)

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
            self._relay_hinted.add(event_id)
            self.relay_soon(event_id)

    async def _relay_loop(self) -> None:
        """Every event's outbox every interval; an event's outbox as soon as it has entries."""
        full_pass_at = 0.0
        while not self._stopping.is_set():
            if time.monotonic() >= full_pass_at:
                full_pass_at = time.monotonic() + self._config.interval
                self._relay_events.clear()
                self._relay_urgent.clear()
                self._relay_failed.clear()
                await self.relay_all()
            elif self._relay_events:
                # an event whose relay just failed (Kafka away) waits for the next full pass
                events = sorted(self._relay_events - self._relay_failed)
                if self._relay_hinted.intersection(events):  # our own wake-ups have entries
                    events = await self._with_entries(events)
                self._relay_events, self._relay_hinted = set(), set()
                self._relay_urgent.clear()
                await self.relay_events(events)
            self._relay_wanted.clear()
            if not self._relay_events:
                await self._sleep(full_pass_at - time.monotonic(), self._relay_wanted)
            if self._relay_urgent.is_set():
                await self._sleep(RELAY_LINGER_SECONDS)
            else:  # joins or leaves only: they wait longer, unless an admission comes meanwhile
                await self._sleep(QUIET_LINGER_SECONDS, self._relay_urgent)

    async def _sleep(self, seconds: float, wake: asyncio.Event | None = None) -> None:
        """Sleeps up to `seconds`; returns early on stop (or when `wake` is set)."""
        waits = [asyncio.create_task(self._stopping.wait())]
        if wake is not None:
            waits.append(asyncio.create_task(wake.wait()))
        _, pending = await asyncio.wait(
            waits, timeout=max(0.0, seconds), return_when=asyncio.FIRST_COMPLETED
        )
        for task in pending:
            task.cancel()

    def relay_soon(self, event_id: str) -> None:
        """The event's outbox has new admissions: relay them now, not at the next interval."""
        self._relay_events.add(event_id)
        self._relay_urgent.set()
        self._relay_wanted.set()

    def relay_later(self, event_id: str) -> None:
        """The event's outbox has new joins or leaves: relay them in a bigger batch, shortly."""
        self._relay_events.add(event_id)
        self._relay_wanted.set()

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

    async def relay_all(self) -> int:
        """Publishes every event's outbox; entries Kafka did not acknowledge stay for later."""
        return await self.relay_events(await self._with_entries(await self._events()))

    async def _with_entries(self, events: list[str]) -> list[str]:
        """The events whose outbox holds entries (a hinted event may have none here)."""
        try:
            return list(await self._relay.pending(events))
        except Exception:  # Redis hiccup: try them all, each with its retries
            logger.exception("could not tell which outboxes hold entries")
            return events

    async def relay_events(self, event_ids: list[str]) -> int:
        relayed = 0
        for event_id in event_ids:
            try:
                relayed += await with_retries(
                    functools.partial(self._relay.relay, event_id),
                    attempts=self._config.retry_attempts,
                    base_delay=self._config.retry_delay,
                    what=f"outbox relay for {event_id}",
                )
            except Exception:
                logger.exception("outbox relay failed for event %s; entries stay", event_id)
                self._count_error(event_id, "relay")
                self._relay_failed.add(event_id)
        return relayed

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
            if before < ADMIT_STEP <= admitted:
                # signing thousands of tokens takes seconds: every replica's relay shares them
                self._tell(f"{RELAY_HINT} {event_id}")
            if result.admitted < ADMIT_STEP:
                break
        self._metrics.event_cycle_seconds.labels(event_id).observe(time.monotonic() - started)
        return admitted

    async def _admit_step(
        self, event_id: str, step_id: str, already: int
    ) -> AdmissionResult | None:
        try:
            return await with_retries(
                lambda: self._store.admit(
                    event_id,
                    step_id,
                    self._now(),
                    self._config.session_ttl_seconds,
                    already,
                    ADMIT_STEP,
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
