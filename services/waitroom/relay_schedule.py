"""When the outbox is relayed: every event each interval, an event with new entries soon."""

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from common.process.retry import with_retries
from waitroom.models import ProcessorConfig

logger = logging.getLogger(__name__)


class Relay(Protocol):
    async def pending(self, event_ids: Sequence[str]) -> list[str]: ...

    async def relay(self, event_id: str, max_batches: int = 50) -> int: ...


async def nap(stopping: asyncio.Event, seconds: float, wake: asyncio.Event | None = None) -> None:
    """Sleeps up to `seconds`; returns early on stop (or when `wake` is set)."""
    waits = [asyncio.create_task(stopping.wait())]
    if wake is not None:
        waits.append(asyncio.create_task(wake.wait()))
    _, pending = await asyncio.wait(
        waits, timeout=max(0.0, seconds), return_when=asyncio.FIRST_COMPLETED
    )
    for task in pending:
        task.cancel()


class RelaySchedule:
    """Relays every event's outbox each interval, and an event's as soon as it has entries.

    An admission (QUEUE_READY, which checkout waits for) lingers `relay_linger` for more
    entries, so a busy line goes in batches (one Redis read and one Kafka send each). Joins
    and leaves only feed statistics: they linger `quiet_linger`, so a crowd's QUEUE_JOINED go
    in bigger batches; an admission arriving meanwhile ends that wait. A Kafka send costs the
    broker and the producer much the same however many records it carries (about a
    millisecond of CPU each on a small machine), so a crowd's joins are cheapest relayed a few
    hundred at a time; the full pass each interval bounds the wait all the same.
    """

    def __init__(
        self,
        relay: Relay,
        config: ProcessorConfig,
        events: Callable[[], Awaitable[list[str]]],
        stopping: asyncio.Event,
        failed: Callable[[str], None],
    ) -> None:
        """events(): the events to relay each interval; failed(event_id): told of an event
        whose relay failed after its retries."""
        self._relay = relay
        self._config = config
        self._list = events
        self._stopping = stopping
        self._failed_once = failed
        self._wanted = asyncio.Event()
        self._urgent = asyncio.Event()  # an admission (or a hint) waits to be relayed
        self._events: set[str] = set()  # events whose outbox has new entries
        self._failed: set[str] = set()  # events whose relay failed since the full pass
        self._hinted: set[str] = set()  # asked by another replica: maybe empty here

    def soon(self, event_id: str) -> None:
        """The event's outbox has new admissions: relay them now, not at the next interval."""
        self._events.add(event_id)
        self._urgent.set()
        self._wanted.set()

    def later(self, event_id: str) -> None:
        """The event's outbox has new joins or leaves: relay them in a bigger batch, shortly."""
        self._events.add(event_id)
        self._wanted.set()

    def hinted(self, event_id: str) -> None:
        """Another replica has many entries of this event: help relay them (some may be ours)."""
        self._hinted.add(event_id)
        self.soon(event_id)

    async def run(self) -> None:
        full_pass_at = 0.0
        while not self._stopping.is_set():
            if time.monotonic() >= full_pass_at:
                full_pass_at = time.monotonic() + self._config.interval
                await self._full_pass()
            elif self._events:
                await self._new_entries()
            self._wanted.clear()
            if not self._events:
                await nap(self._stopping, full_pass_at - time.monotonic(), self._wanted)
            await self._linger_for_more()

    async def _full_pass(self) -> None:
        self._events.clear()
        self._urgent.clear()
        self._failed.clear()
        await self.relay_all()

    async def _new_entries(self) -> None:
        # an event whose relay just failed (Kafka away) waits for the next full pass
        events = sorted(self._events - self._failed)
        if self._hinted.intersection(events):  # our own wake-ups have entries
            events = await self._with_entries(events)
        self._events, self._hinted = set(), set()
        self._urgent.clear()
        await self.relay_events(events)

    async def _linger_for_more(self) -> None:
        if self._urgent.is_set():
            await nap(self._stopping, self._config.relay_linger)
        else:  # joins or leaves only: they wait longer, unless an admission comes meanwhile
            await nap(self._stopping, self._config.quiet_linger, self._urgent)

    async def relay_all(self) -> int:
        """Publishes every event's outbox; entries Kafka did not acknowledge stay for later."""
        return await self.relay_events(await self._with_entries(await self._list()))

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
                self._failed_once(event_id)
                self._failed.add(event_id)
        return relayed
