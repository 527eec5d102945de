"""Checkout's background work: expire holds past their deadline, relay the outbox to Kafka."""

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from common.process.retry import with_retries

logger = logging.getLogger(__name__)


class SweepStore(Protocol):
    async def event_ids(self) -> list[str]: ...

    async def sweep(self, event_id: str, now_ms: int, limit: int = 500) -> int: ...


class Relay(Protocol):
    async def pending(self, event_ids: Sequence[str]) -> list[str]: ...

    async def relay(self, event_id: str, max_batches: int = 50) -> int: ...


class CheckoutWorker:
    def __init__(
        self,
        store: SweepStore,
        relay: Relay,
        interval: float,
        attempts: int,
        clock_ms: Callable[[], int],
        on_error: Callable[[str], None],
        retry_delay: float = 0.2,
    ) -> None:
        """retry_delay: seconds before a failed step's second attempt, doubling after."""
        self._store = store
        self._relay = relay
        self._interval = interval
        self._attempts = attempts
        self._retry_delay = retry_delay
        self._now = clock_ms
        self._on_error = on_error
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        while not self._stopping.is_set():
            started = time.monotonic()
            await self.sweep_and_relay()
            pause = max(0.0, self._interval - (time.monotonic() - started))
            try:
                await asyncio.wait_for(self._stopping.wait(), pause)
            except TimeoutError:
                continue

    def stop(self) -> None:
        self._stopping.set()

    async def sweep_and_relay(self) -> None:
        try:
            event_ids = await self._store.event_ids()
        except Exception:
            logger.exception("could not list events")
            self._on_error("list")
            return
        # Every event's sweep at once: their scripts share pipelines, not a round trip each.
        await asyncio.gather(
            *(self._step("sweep", e, functools.partial(self._sweep, e)) for e in event_ids)
        )
        try:
            busy = await self._relay.pending(event_ids)
        except Exception:  # Redis hiccup: try them all, each with its retries
            logger.exception("could not tell which outboxes hold entries")
            busy = event_ids
        for event_id in busy:
            await self._step("relay", event_id, functools.partial(self._relay.relay, event_id))

    async def _sweep(self, event_id: str) -> int:
        return await self._store.sweep(event_id, self._now())  # the clock read on each retry

    async def _step(self, step: str, event_id: str, work: Callable[[], Awaitable[int]]) -> None:
        try:
            await with_retries(
                work,
                attempts=self._attempts,
                base_delay=self._retry_delay,
                what=f"{step} of {event_id}",
            )
        except Exception:
            logger.exception("%s failed for event %s; next interval retries", step, event_id)
            self._on_error(step)
