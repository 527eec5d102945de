"""An idempotent Kafka producer whose every send has a timeout."""

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

from common.process.resource import Resource
from common.process.settings import CommonSettings

logger = logging.getLogger(__name__)
# A call's records for one partition go as packed batches from this many on, else by `send`.
PACK_FROM = 16


@dataclass(frozen=True, slots=True)
class Record:
    topic: str
    key: str
    value: bytes


class PublishError(Exception):
    """Kafka did not acknowledge a batch in time: its outcome is unknown."""


class Publisher(Resource):
    """Sends batches with acks=all and idempotence; a failed batch gets a new producer.

    A call's many records for one partition are packed into record batches (on the partition
    `send` would pick: the default partitioner's hash of the key), which costs a third of a
    `send` per record; a call's few records go by `send` itself (see `_send`).

    aiokafka's defaults (acks=1, no idempotence) could lose or duplicate an
    admission, and with the broker down `send_and_wait` and `stop` can wait
    forever, so every call here is bounded by `timeout` seconds.
    """

    def __init__(self, bootstrap_servers: str, timeout: float, client_id: str) -> None:
        self._bootstrap_servers = bootstrap_servers
        self._timeout = timeout
        self._client_id = client_id
        self._producer: AIOKafkaProducer | None = None
        self._partitions: dict[str, list[int]] = {}
        self._partitioner = DefaultPartitioner()
        # concurrent publishes (a consumer dead-lettering several records) share one producer
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        async with self._lock:
            if self._producer is None:  # not started already (by a concurrent publish, say)
                await self._start()

    async def _start(self) -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=self._bootstrap_servers,
            client_id=self._client_id,
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
            max_batch_size=256 * 1024,
            request_timeout_ms=int(self._timeout * 1000),
        )
        try:
            await asyncio.wait_for(producer.start(), self._timeout)
        except BaseException:
            await self._close(producer)
            raise
        self._producer = producer

    async def ping(self) -> None:
        """Kafka answers a metadata request (the readiness probe); starts a producer if none."""
        if self._producer is None:
            await self.start()
        assert self._producer is not None
        await self._producer.client.fetch_all_metadata()

    async def publish(self, records: Sequence[Record]) -> None:
        """Returns once Kafka acknowledged every record; raises PublishError otherwise."""
        if not records:
            return
        try:
            if self._producer is None:
                await self.start()
            producer = self._producer
            assert producer is not None
            async with asyncio.timeout(self._timeout):
                await asyncio.gather(*await self._send(producer, records))
        except (Exception, TimeoutError) as error:
            await self._reset()
            raise PublishError(f"{len(records)} records unacknowledged: {error!r}") from error

    async def _send(
        self, producer: AIOKafkaProducer, records: Sequence[Record]
    ) -> list[asyncio.Future[object]]:
        """Queues the records, in order per partition; returns their futures.

        A partition's many records of one call go as packed batches. A few go with `send`,
        which joins them to the batch already open for that partition: aiokafka sends one
        batch per partition at a time, so hundreds of concurrent one-record calls (a consumer
        dead-lettering a fetch) would otherwise each wait a round trip for the one before.
        """
        by_partition: dict[tuple[str, int], list[tuple[bytes, Record]]] = {}
        for record in records:
            key = record.key.encode()
            partition = await self._partition(producer, record.topic, key)
            by_partition.setdefault((record.topic, partition), []).append((key, record))
        queued = []
        for (topic, partition), keyed in by_partition.items():
            if len(keyed) >= PACK_FROM:
                queued += await self._send_packed(producer, topic, partition, keyed)
                continue
            for key, record in keyed:
                queued.append(
                    await producer.send(topic, record.value, key=key, partition=partition)
                )
        return queued

    async def _send_packed(
        self,
        producer: AIOKafkaProducer,
        topic: str,
        partition: int,
        keyed: list[tuple[bytes, Record]],
    ) -> list[asyncio.Future[object]]:
        queued = []
        batch = producer.create_batch()
        for key, record in keyed:
            if batch.append(key=key, value=record.value, timestamp=None) is None:
                queued.append(await producer.send_batch(batch, topic, partition=partition))
                batch = producer.create_batch()  # full: the next one
                if batch.append(key=key, value=record.value, timestamp=None) is None:
                    raise PublishError(f"a record of {len(record.value)} bytes fits no batch")
        queued.append(await producer.send_batch(batch, topic, partition=partition))
        return queued

    async def _partition(self, producer: AIOKafkaProducer, topic: str, key: bytes) -> int:
        partitions = self._partitions.get(topic)
        if partitions is None:
            partitions = self._partitions[topic] = sorted(await producer.partitions_for(topic))
        partition: int = self._partitioner(key, partitions, partitions)
        return partition

    async def stop(self) -> None:
        """Closes the producer; returns at once when there is none (stopped, or never used)."""
        await self._reset()

    async def _reset(self) -> None:
        self._partitions.clear()  # partitions may have been added meanwhile
        producer, self._producer = self._producer, None
        if producer is not None:
            await self._close(producer)

    async def _close(self, producer: AIOKafkaProducer) -> None:
        try:
            await asyncio.wait_for(producer.stop(), self._timeout)
        except (Exception, TimeoutError) as error:
            logger.warning("kafka producer did not stop cleanly: %r", error)


def publisher_for(settings: CommonSettings, client_id: str) -> Publisher:
    return Publisher(
        settings.kafka_bootstrap_servers, settings.kafka_send_timeout.total_seconds(), client_id
    )
