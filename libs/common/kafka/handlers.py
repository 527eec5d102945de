"""What the consume loop calls: a batch handler, or a per-record handler adapted to one."""

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from aiokafka import ConsumerRecord

from common.kafka.records import PoisonMessageError
from common.process.outages import OUTAGES

__all__ = ["OUTAGES", "BatchHandler", "Handler", "Poison", "Records", "each_record"]
Records = Sequence[ConsumerRecord[bytes, bytes]]
# A record that cannot be applied, and why: it goes to the DLQ, never retried.
Poison = tuple[ConsumerRecord[bytes, bytes], Exception]
# Applies a batch; returns its poison records. Raising retries the whole batch, so applying
# twice must change nothing.
BatchHandler = Callable[[Records], Awaitable[Sequence[Poison]]]
Handler = Callable[[ConsumerRecord[bytes, bytes]], Awaitable[None]]


def each_record(handler: Handler, attempts: int, delay: float) -> BatchHandler:
    """A batch handler that applies every record on its own, all at once.

    Running concurrently, their Redis calls share pipelines; each record's effect is atomic
    and idempotent, so a record retried may land after later ones. A record is tried
    `attempts` times (backoff from `delay` seconds); one that still fails is poison, except
    when the store itself was away: then the batch raises, and is applied again later.
    """

    async def apply(record: ConsumerRecord[bytes, bytes]) -> Exception | None:
        for attempt in range(1, attempts + 1):
            try:
                await handler(record)
                return None
            except PoisonMessageError as poison:
                return poison
            except Exception as failure:  # retried, then dead-lettered
                if attempt == attempts:
                    return failure
                await asyncio.sleep(delay * 2 ** (attempt - 1))
        raise AssertionError("attempts must be at least 1")

    async def handle(records: Records) -> list[Poison]:
        errors = await asyncio.gather(*(apply(record) for record in records))
        outage = next((e for e in errors if isinstance(e, OUTAGES)), None)
        if outage is not None:
            raise outage
        return [(r, e) for r, e in zip(records, errors, strict=True) if e is not None]

    return handle
