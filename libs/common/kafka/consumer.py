"""The one Kafka consume loop: handle, then commit; what cannot be applied goes to <topic>.DLQ.

Offsets are committed by hand, only after a record's effect is stored (or the record is
dead-lettered). Handlers are idempotent, so a record delivered again changes nothing.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from prometheus_client import CollectorRegistry, Counter
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from common.kafka import topics
from common.kafka.publisher import Publisher
from common.kafka.records import PoisonMessageError, dead_letter

logger = logging.getLogger(__name__)

STARTUP_SECONDS = 30
# Failures of the store itself: a record that meets one is retried later, never dead-lettered.
OUTAGES = (RedisConnectionError, RedisTimeoutError)
Handler = Callable[[ConsumerRecord[bytes, bytes]], Awaitable[None]]


class ConsumerMetrics:
    def __init__(self, registry: CollectorRegistry, service: str) -> None:
        labels = ["topic"]
        self.applied = Counter(f"{service}_consumed", "Records applied", labels, registry=registry)
        self.retried = Counter(
            f"{service}_consume_retries", "Handler retries", labels, registry=registry
        )
        self.dead = Counter(
            f"{service}_dead_lettered", "Records sent to the DLQ", labels, registry=registry
        )


class EventConsumer:
    def __init__(
        self,
        *,
        bootstrap_servers: str,
        group_id: str,
        topic_names: Sequence[str],
        handler: Handler,
        dead_letters: Publisher,
        metrics: ConsumerMetrics,
        retry_attempts: int = 3,
        retry_delay: float = 0.2,
        max_records: int = 500,
        offset_reset: str = "earliest",
    ) -> None:
        self._group_id = group_id
        self._handler = handler
        self._dead_letters = dead_letters
        self._metrics = metrics
        self._attempts = retry_attempts
        self._delay = retry_delay
        self._max_records = max_records
        self._stopping = asyncio.Event()
        self._consumer = AIOKafkaConsumer(
            *topic_names,
            bootstrap_servers=bootstrap_servers,
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset=offset_reset,
            max_poll_records=max_records,
        )

    async def start(self) -> None:
        await asyncio.wait_for(self._consumer.start(), STARTUP_SECONDS)

    async def run(self) -> None:
        while not self._stopping.is_set():
            batch = await self._consumer.getmany(timeout_ms=500, max_records=self._max_records)
            # Settings first: a batch's EVENT_UPDATED is applied before what depends on it.
            for partition, records in sorted(batch.items(), key=self._order):
                await self._consume(partition, records)

    def stop(self) -> None:
        self._stopping.set()

    async def wait_assigned(self) -> None:
        """Returns once this consumer has its partitions and their positions (tests wait for it)."""
        while not self._consumer.assignment():  # noqa: ASYNC110 (aiokafka offers no event)
            await asyncio.sleep(0.05)
        # With offset_reset="latest" the position is looked up after the assignment: a record
        # sent in between would be skipped. Every partition's position is known from here on.
        for partition in self._consumer.assignment():
            await self._consumer.position(partition)

    def _order(self, item: tuple[TopicPartition, list[ConsumerRecord[bytes, bytes]]]) -> int:
        return 0 if item[0].topic == topics.EVENT_UPDATED else 1

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self._consumer.stop(), STARTUP_SECONDS)
        except (TimeoutError, KafkaError) as error:
            logger.warning("consumer %s did not stop cleanly: %r", self._group_id, error)

    async def _consume(
        self, partition: TopicPartition, records: list[ConsumerRecord[bytes, bytes]]
    ) -> None:
        """Applies a partition's fetched records together, then commits what is done.

        Handlers start in offset order and run concurrently, so their Redis calls share
        pipelines; each handler's effect is atomic, and a record retried after a failure may
        land after later ones (every handler is idempotent and per session or versioned).
        The commit stops before the first record that could not be applied or dead-lettered
        (Redis away, or the DLQ refused it): it and what follows are read again.
        """
        if self._stopping.is_set():
            return
        outcomes = await asyncio.gather(
            *(self._apply(record) for record in records), return_exceptions=True
        )
        done = None
        for record, outcome in zip(records, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                # Not even the DLQ took it: read this record again later, commit nothing past it.
                logger.error(
                    "could not apply or dead-letter %s@%s; retrying later: %r",
                    partition,
                    record.offset,
                    outcome,
                )
                self._consumer.seek(partition, record.offset)
                await asyncio.sleep(self._delay)
                break
            done = record.offset + 1
        if done is not None:
            await self._commit(partition, done)

    async def _apply(self, record: ConsumerRecord[bytes, bytes]) -> None:
        error: Exception | None = None
        for attempt in range(1, self._attempts + 1):
            try:
                await self._handler(record)
                self._metrics.applied.labels(record.topic).inc()
                return
            except PoisonMessageError as poison:
                error = poison
                break
            except Exception as failure:  # every other failure is retried, then dead-lettered
                error = failure
                if attempt < self._attempts:
                    self._metrics.retried.labels(record.topic).inc()
                    await asyncio.sleep(self._delay * 2 ** (attempt - 1))
        if isinstance(error, OUTAGES):
            # Redis is away, not the record at fault: it is read again later, not dead-lettered
            raise error
        await self._dead_letter(record, error)

    async def _dead_letter(
        self, record: ConsumerRecord[bytes, bytes], error: Exception | None
    ) -> None:
        await self._dead_letters.publish([dead_letter(record, error, self._group_id)])
        self._metrics.dead.labels(record.topic).inc()
        logger.warning(
            "dead-lettered %s[%s]@%s: %r", record.topic, record.partition, record.offset, error
        )

    async def _commit(self, partition: TopicPartition, offset: int) -> None:
        try:
            await self._consumer.commit({partition: offset})
        except (CommitFailedError, KafkaError) as error:
            # A rebalance moved the partition: its next owner re-applies, idempotently.
            logger.warning("commit of %s@%s failed: %r", partition, offset, error)
