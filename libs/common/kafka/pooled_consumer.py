"""A Kafka consumer that hands records to a TaskPool, in batches.

Each task is a batch of up to `batch_size` records, applied by one handler call (stats: one
script call per event), so a busy consumer pays Redis' per-call costs once per batch, not
once per record. A handler names the records that are poison: those go to the DLQ on their
own, the rest of the batch is applied. A batch that fails is retried as a whole (handlers are
idempotent); when it never succeeds, each record is tried once alone and only those that
still fail are dead-lettered.

Backpressure: while the pool's buffer is full, the assigned partitions are paused, so
nothing more is fetched and nothing is dropped; fetching resumes once half the buffer is free,
so a busy pool fetches in batches, not a record at a time. Offsets are committed per
partition only up to the first record whose task has not finished, so a crash or shutdown
loses nothing; in between they are committed at most every `commit_interval` seconds (a
record finished but not yet committed is applied again after a crash, idempotently).
"""

import asyncio
import functools
import logging
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Sequence

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError

from common.kafka import topics
from common.kafka.consumer import ConsumerMetrics
from common.kafka.publisher import Publisher
from common.kafka.records import PoisonMessageError, dead_letter
from common.kafka.taskpool import Task, TaskPool

logger = logging.getLogger(__name__)
Records = Sequence[ConsumerRecord[bytes, bytes]]
Poison = tuple[ConsumerRecord[bytes, bytes], PoisonMessageError]
# Applies a batch; returns its poison records (not applied, never retried: the DLQ). Raising
# retries the whole batch, so applying twice must change nothing.
BatchHandler = Callable[[Records], Awaitable[Sequence[Poison]]]


class OffsetTracker:
    """The offsets handed out per partition, in order; what is safe to commit."""

    def __init__(self) -> None:
        self._pending: dict[TopicPartition, deque[list[int]]] = {}

    def add(self, partition: TopicPartition, offset: int) -> list[int]:
        entry = [offset, 0]  # [offset, finished]
        self._pending.setdefault(partition, deque()).append(entry)
        return entry

    def committable(self) -> dict[TopicPartition, int]:
        offsets = {}
        for partition, entries in self._pending.items():
            last = None
            while entries and entries[0][1]:
                last = entries.popleft()[0]
            if last is not None:
                offsets[partition] = last + 1
        return offsets

    def forget(self, partitions: Sequence[TopicPartition]) -> None:
        for partition in partitions:
            self._pending.pop(partition, None)


class PooledConsumer(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(
        self,
        *,
        bootstrap_servers: str,
        group_id: str,
        topic_names: Sequence[str],
        handler: BatchHandler,
        dead_letters: Publisher,
        metrics: ConsumerMetrics,
        workers: int = 3,
        capacity: int = 100,
        batch_size: int = 1,
        retry_delays: Sequence[float] = (1.0, 2.0, 3.0),
        offset_reset: str = "earliest",
        commit_interval: float = 0.5,
        fetch_min_bytes: int = 1,
        fetch_max_wait_ms: int = 500,
    ) -> None:
        self._group_id = group_id
        self._topics = tuple(topic_names)
        self._handler = handler
        self._batch_size = batch_size
        self.pool = TaskPool(workers, capacity, retry_delays, dead_letter=self.dead_letter)
        self._dead_letters = dead_letters
        self._metrics = metrics
        self._tracker = OffsetTracker()
        self._stopping = asyncio.Event()
        self._commit_interval = commit_interval
        self._committed_at = 0.0
        self.paused = 0
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers,
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset=offset_reset,
            # the broker answers a fetch once it has this much, or after the wait
            fetch_min_bytes=fetch_min_bytes,
            fetch_max_wait_ms=fetch_max_wait_ms,
        )

    async def start(self) -> None:
        await asyncio.wait_for(self._consumer.start(), 30)
        self._consumer.subscribe(self._topics, listener=self)
        self.pool.start()

    async def wait_assigned(self) -> None:
        while not self._consumer.assignment():  # noqa: ASYNC110 (aiokafka offers no event)
            await asyncio.sleep(0.05)
        # With offset_reset="latest" the position is looked up after the assignment: a record
        # sent in between would be skipped. Every partition's position is known from here on.
        for partition in self._consumer.assignment():
            await self._consumer.position(partition)

    async def run(self) -> None:
        while not self._stopping.is_set():
            await self._wait_for_room()
            room = self.pool.state().capacity - self.pool.state().queue_size
            fetched = await self._consumer.getmany(
                timeout_ms=300, max_records=max(room, 1) * self._batch_size
            )
            records = [
                (partition, record)
                for partition, part in sorted(fetched.items(), key=_settings_first)
                for record in part
            ]
            for start in range(0, len(records), self._batch_size):
                await self._submit(records[start : start + self._batch_size])
            await self._commit_due()

    async def stop(self, grace: float) -> None:
        """Stops fetching, lets the pool finish within `grace`, commits only finished work."""
        self._stopping.set()
        handed_back = await self.pool.stop(grace)
        if handed_back:
            logger.info(
                "%s unstarted tasks handed back: redelivered after restart", len(handed_back)
            )
        await self._commit()
        try:
            await asyncio.wait_for(self._consumer.stop(), 10)
        except (TimeoutError, KafkaError) as error:
            logger.warning("consumer %s did not stop cleanly: %r", self._group_id, error)

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

    async def _submit(
        self, batch: list[tuple[TopicPartition, ConsumerRecord[bytes, bytes]]]
    ) -> None:
        entries = [self._tracker.add(partition, record.offset) for partition, record in batch]

        def finished(applied: bool) -> None:
            for entry in entries:
                entry[1] = 1

        records = [record for _, record in batch]
        first = records[0]
        more = f" and {len(records) - 1} more" if len(records) > 1 else ""
        await self.pool.submit(
            Task(
                name=f"{first.topic}[{first.partition}]@{first.offset}{more}",
                run=functools.partial(self._apply, records),
                done=finished,
                item=records,
            )
        )

    async def _apply(self, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        poison = await self._handler(records)
        await self._send_to_dlq(poison)  # never retried: straight to the DLQ
        self._count_applied(records, poison)

    async def dead_letter(self, task: Task, error: BaseException) -> None:
        """A batch that kept failing: each record is tried once alone, the failing ones go."""
        records = task.item
        assert isinstance(records, list)
        if len(records) == 1:
            await self._send_to_dlq([(records[0], error)])
            return
        failed: list[tuple[ConsumerRecord[bytes, bytes], BaseException]] = []
        for record in records:  # one bad record must not take the rest of its batch along
            try:
                poison = await self._handler([record])
            except Exception as alone:
                failed.append((record, alone))
                continue
            failed += poison
            self._count_applied([record], poison)
        await self._send_to_dlq(failed)

    def _count_applied(self, records: Records, poison: Sequence[Poison]) -> None:
        applied = Counter(record.topic for record in records)
        applied.subtract(record.topic for record, _ in poison)
        for topic, count in applied.items():
            if count:
                self._metrics.applied.labels(topic).inc(count)

    async def _send_to_dlq(
        self, failed: Sequence[tuple[ConsumerRecord[bytes, bytes], BaseException]]
    ) -> None:
        if not failed:
            return
        await self._dead_letters.publish([dead_letter(r, e, self._group_id) for r, e in failed])
        for record, reason in failed:
            self._metrics.dead.labels(record.topic).inc()
            logger.warning(
                "dead-lettered %s[%s]@%s: %r", record.topic, record.partition, record.offset, reason
            )

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


def _settings_first(item: tuple[TopicPartition, list[ConsumerRecord[bytes, bytes]]]) -> int:
    return 0 if item[0].topic == topics.EVENT_UPDATED else 1
