"""What became of consumed records: counted as applied, or sent to <topic>.DLQ."""

import logging
from collections import Counter as Tally
from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter

from common.kafka.handlers import OUTAGES, BatchHandler, Poison, Records
from common.kafka.publisher import Publisher
from common.kafka.records import dead_letter

logger = logging.getLogger(__name__)


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


class Outcomes:
    def __init__(self, dead_letters: Publisher, metrics: ConsumerMetrics, group_id: str) -> None:
        self._dead_letters = dead_letters
        self._metrics = metrics
        self._group_id = group_id

    def applied(self, records: Records, poison: Sequence[Poison]) -> None:
        applied = Tally(record.topic for record in records)
        applied.subtract(record.topic for record, _ in poison)
        for topic, count in applied.items():
            if count:
                self._metrics.applied.labels(topic).inc(count)

    def retried(self, records: Records) -> None:
        for topic, count in Tally(record.topic for record in records).items():
            self._metrics.retried.labels(topic).inc(count)

    async def dead(self, failed: Sequence[Poison]) -> None:
        """Sends the records to their DLQ; raises PublishError when Kafka did not take them."""
        if not failed:
            return
        await self._dead_letters.publish([dead_letter(r, e, self._group_id) for r, e in failed])
        for record, reason in failed:
            self._metrics.dead.labels(record.topic).inc()
            logger.warning(
                "dead-lettered %s[%s]@%s: %r", record.topic, record.partition, record.offset, reason
            )

    async def dead_letter(self, handler: BatchHandler, records: Records, error: Exception) -> None:
        """A batch that kept failing: each record is tried once alone, the failing ones go.

        Should a record alone meet an outage, or the DLQ refuse, this raises and the batch
        is tried again later: one bad record never takes its batch along."""
        if len(records) == 1:
            await self.dead([(records[0], error)])
            return
        failed: list[Poison] = []
        for record in records:
            try:
                poison = await handler([record])
            except OUTAGES:
                raise
            except Exception as alone:
                failed.append((record, alone))
                continue
            failed += poison
            self.applied([record], poison)
        await self.dead(failed)
