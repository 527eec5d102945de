"""The one Kafka consume loop: fetch, hand batches to a task pool, commit what is finished.

Each task is a batch of up to `batch_size` records, applied by one handler call, so a busy
consumer pays Redis' per-call costs once per batch. What a handler names as poison goes to
<topic>.DLQ on its own; a batch that keeps failing is tried record by record, and only the
records that still fail are dead-lettered. A failure of the store itself (OUTAGES) is never
dead-lettered: the batch waits and is tried again, and is not committed meanwhile.

Backpressure: while the pool's buffer is full the partitions are paused, so nothing more is
fetched and nothing is dropped. Offsets are committed per partition only up to the first
record whose task has not finished (at most every `commit_interval` seconds, on revoke and
on stop), so a crash or shutdown loses nothing; handlers are idempotent, so a record
delivered again changes nothing.
"""

import asyncio
import functools
import logging
import time
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, ConsumerStoppedError, KafkaError

from common.kafka import topics
from common.kafka.handlers import OUTAGES, BatchHandler
from common.kafka.offsets import OffsetTracker
from common.kafka.outcomes import ConsumerMetrics, Outcomes
from common.kafka.publisher import Publisher
from common.kafka.taskpool import Task, TaskPool
from common.process.resource import Resource

__all__ = ["EACH_RECORD", "ConsumerMetrics", "EventConsumer"]
logger = logging.getLogger(__name__)
STARTUP_SECONDS = 30
# Leaving the group takes a moment, or, mid-rebalance (a process stopped just after it started),
# as long as the rebalance: past this the process goes anyway, well within its grace, and the
# group hands its partitions on when its session times out.
STOP_SECONDS = 5
# The pool of a consumer whose handler is each_record(...): a fetch's records of a partition
# are one task, applied concurrently, and the next fetch is read meanwhile.
EACH_RECORD = {"workers": 2, "capacity": 4, "batch_size": 500}
Fetched = list[tuple[TopicPartition, ConsumerRecord[bytes, bytes]]]


class EventConsumer(Resource, ConsumerRebalanceListener):  # type: ignore[misc]
    """start(), run() until stop(); or `async with`. stop() may be called any number of times."""

    def __init__(
        self,
        *,
        bootstrap_servers: str,
        group_id: str,
        topic_names: Sequence[str],
        handler: BatchHandler,
        dead_letters: Publisher,
        metrics: ConsumerMetrics,
        retry_delays: Sequence[float],
        workers: int = 3,
        capacity: int = 100,
        batch_size: int = 1,
        offset_reset: str = "earliest",
        commit_interval: float = 0.5,
        shutdown_grace: float = 10.0,
        fetch_min_bytes: int = 1,
        fetch_max_wait_ms: int = 500,
    ) -> None:
        self._group_id = group_id
        self._topics = tuple(topic_names)
        self._handler = handler
        self._batch_size = batch_size
        self.pool = TaskPool(workers, capacity, retry_delays, self._dead_letter_task, OUTAGES)
        self._outcomes = Outcomes(dead_letters, metrics, group_id)
        self._tracker = OffsetTracker()
        self._stopping = asyncio.Event()
        self._stopped = False
        self._commit_interval, self._committed_at = commit_interval, 0.0
        self._grace = shutdown_grace
        self.paused = 0
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers,
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset=offset_reset,
            fetch_min_bytes=fetch_min_bytes,
            fetch_max_wait_ms=fetch_max_wait_ms,
        )

    async def start(self) -> None:
        await asyncio.wait_for(self._consumer.start(), STARTUP_SECONDS)
        self._consumer.subscribe(self._topics, listener=self)
        self.pool.start()

    async def wait_assigned(self) -> None:
        """Returns once this consumer has its partitions and their positions (tests wait for it)."""
        while not self._consumer.assignment():  # noqa: ASYNC110 (aiokafka offers no event)
            await asyncio.sleep(0.05)
        # With offset_reset="latest" the position is looked up after the assignment: a record
        # sent in between would be skipped. Every partition's position is known from here on.
        for partition in self._consumer.assignment():
            await self._consumer.position(partition)

    async def run(self) -> None:
        """Consumes until stop(); a fetch's EVENT_UPDATED records finish before the rest start."""
        try:
            while not self._stopping.is_set():
                await self._wait_for_room()
                settings, rest = await self._fetch()
                await self._finish(await self._submit_all(settings))
                await self._submit_all(rest)
                await self._commit_due()
        except ConsumerStoppedError:
            if not self._stopping.is_set():
                raise

    async def stop(self, grace: float | None = None) -> None:
        """Stops fetching, lets the pool finish within `grace` s, commits finished work only."""
        if self._stopped:
            return
        self._stopped = True
        self._stopping.set()
        handed_back = await self.pool.stop(self._grace if grace is None else grace)
        if handed_back:
            logger.info("%s unstarted tasks handed back: delivered again later", len(handed_back))
        await self._commit()
        try:
            await asyncio.wait_for(self._consumer.stop(), STOP_SECONDS)
        except (TimeoutError, KafkaError) as error:
            logger.warning("consumer %s did not stop cleanly: %r", self._group_id, error)

    async def _fetch(self) -> tuple[Fetched, Fetched]:
        room = max(self.pool.state().capacity - self.pool.state().queue_size, 1)
        fetched = await self._consumer.getmany(timeout_ms=300, max_records=room * self._batch_size)
        settings: Fetched = []
        rest: Fetched = []
        for partition, records in fetched.items():
            into = settings if partition.topic == topics.EVENT_UPDATED else rest
            into += [(partition, record) for record in records]
        return settings, rest

    async def _wait_for_room(self) -> None:
        """Returns once at least half the buffer is free; partitions are paused while full.

        Waiting for half (not one free slot) makes each fetch a batch, and pausing only when
        full keeps pauses rare: aiokafka drops a paused partition's prefetched records.
        """
        if not self.pool.busy_above(0.5):
            return
        paused = self._consumer.assignment() if self.pool.full() else set()
        if paused:
            self._consumer.pause(*paused)
            self.paused = len(paused)
        while self.pool.busy_above(0.5) and not self._stopping.is_set():
            await self._commit_due()
            await asyncio.sleep(0.02)
        if paused:
            self._consumer.resume(*paused)
            self.paused = 0

    async def _submit_all(self, fetched: Fetched) -> list[asyncio.Event]:
        """Hands the records to the pool in batches; once stopping, the rest is left unread."""
        size, submitted = self._batch_size, []
        for start in range(0, len(fetched), size):
            if self._stopping.is_set():
                break
            submitted.append(await self._submit(fetched[start : start + size]))
        return submitted

    async def _submit(self, batch: Fetched) -> asyncio.Event:
        entries = [self._tracker.add(partition, record.offset) for partition, record in batch]
        finished = asyncio.Event()

        def done(applied: bool) -> None:
            for entry in entries:
                entry[1] = 1
            finished.set()

        records = [record for _, record in batch]
        first, more = records[0], f" and {len(records) - 1} more" if len(records) > 1 else ""
        name = f"{first.topic}[{first.partition}]@{first.offset}{more}"
        run = functools.partial(self._apply, records, [0])
        await self.pool.submit(Task(name=name, run=run, done=done, item=records))
        return finished

    async def _finish(self, batches: list[asyncio.Event]) -> None:
        """Waits until the batches are finished for good, or the consumer stops."""
        for finished in batches:
            stopping = asyncio.ensure_future(self._stopping.wait())
            waiting = asyncio.ensure_future(finished.wait())
            await asyncio.wait({stopping, waiting}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            waiting.cancel()

    async def _apply(self, records: list[ConsumerRecord[bytes, bytes]], tries: list[int]) -> None:
        tries[0] += 1
        if tries[0] > 1:
            self._outcomes.retried(records)
        poison = await self._handler(records)
        await self._outcomes.dead(poison)  # never retried: straight to the DLQ
        self._outcomes.applied(records, poison)

    async def _dead_letter_task(self, task: Task, error: Exception) -> None:
        records = task.item
        assert isinstance(records, list)
        await self._outcomes.dead_letter(self._handler, records, error)

    async def _commit_due(self) -> None:
        if time.monotonic() - self._committed_at >= self._commit_interval:
            await self._commit()

    async def _commit(self) -> None:
        self._committed_at = time.monotonic()
        offsets = self._tracker.committable()
        if not offsets:
            return
        try:
            await self._consumer.commit(offsets)
        except (CommitFailedError, KafkaError) as error:
            # A rebalance moved the partition: its next owner re-applies, idempotently.
            logger.warning("commit failed (rebalance?); the next owner re-applies: %r", error)

    async def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        await self._commit()
        self._tracker.forget(revoked)

    async def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        self._tracker.forget(assigned)
        # Make the group's starting point durable: a successor must resume here, not at a
        # later "latest", even if this consumer dies before finishing anything.
        start = {}
        for partition in assigned:
            if await self._consumer.committed(partition) is None:
                start[partition] = await self._consumer.position(partition)
        if start:
            await self._consumer.commit(start)
