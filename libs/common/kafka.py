"""An idempotent Kafka producer whose every send has a timeout."""

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Record:
    topic: str
    key: str
    value: bytes


class PublishError(Exception):
    """Kafka did not acknowledge a batch in time: its outcome is unknown."""


class Publisher:
    """Sends batches with acks=all and idempotence; a failed batch gets a new producer.

    aiokafka's defaults (acks=1, no idempotence) could lose or duplicate an
    admission, and with the broker down `send_and_wait` and `stop` can wait
    forever, so every call here is bounded by `timeout` seconds.
    """

    def __init__(self, bootstrap_servers: str, timeout: float, client_id: str) -> None:
        self._bootstrap_servers = bootstrap_servers
        self._timeout = timeout
        self._client_id = client_id
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        if self._producer is not None:  # started already (a retried connect, say)
            return
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
                pending = [
                    await producer.send(r.topic, r.value, key=r.key.encode()) for r in records
                ]
                await asyncio.gather(*pending)
        except (Exception, TimeoutError) as error:
            await self._reset()
            raise PublishError(f"{len(records)} records unacknowledged: {error!r}") from error

    async def stop(self) -> None:
        await self._reset()

    async def _reset(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await self._close(producer)

    async def _close(self, producer: AIOKafkaProducer) -> None:
        try:
            await asyncio.wait_for(producer.stop(), self._timeout)
        except (Exception, TimeoutError) as error:
            logger.warning("kafka producer did not stop cleanly: %r", error)
