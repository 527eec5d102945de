"""Every Kafka topic read from offset 0 with aiokafka, to the end offsets of the moment."""

import asyncio
import json
from collections import defaultdict

from aiokafka import AIOKafkaConsumer, TopicPartition

from common.kafka import topics

EVERY_TOPIC = tuple(t for name in topics.ALL for t in (name, topics.dead_letter(name)))


async def read_all(bootstrap: str, wanted: tuple[str, ...] = EVERY_TOPIC) -> dict[str, list]:
    """topic -> its records' values (parsed JSON, or the raw text when not JSON), in order."""
    # No group: subscribed, the consumer is given every partition of the topics.
    consumer = AIOKafkaConsumer(
        *wanted, bootstrap_servers=bootstrap, enable_auto_commit=False, request_timeout_ms=15000
    )
    await consumer.start()
    try:
        partitions = await _assigned(consumer, len(wanted))
        ends = await consumer.end_offsets(partitions)
        await consumer.seek_to_beginning(*partitions)
        return await _drain(consumer, {tp: end for tp, end in ends.items() if end > 0})
    finally:
        await consumer.stop()


async def _assigned(consumer: AIOKafkaConsumer, topic_count: int) -> list[TopicPartition]:
    for _ in range(300):
        partitions = consumer.assignment()
        if len({tp.topic for tp in partitions}) >= topic_count:
            return sorted(partitions)
        await asyncio.sleep(0.1)
    raise RuntimeError(f"only {len(consumer.assignment())} partitions assigned after 30 s")


async def _drain(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> dict[str, list]:
    found: dict[str, list] = defaultdict(list)
    while ends:
        batch = await consumer.getmany(*ends, timeout_ms=2000, max_records=5000)
        for tp, records in batch.items():
            for record in records:
                found[tp.topic].append(_parsed(record.value or b""))
                if record.offset + 1 >= ends.get(tp, 0):
                    ends.pop(tp, None)
        for tp in list(ends):
            if await consumer.position(tp) >= ends[tp]:
                ends.pop(tp)
    return found


def _parsed(value: bytes) -> object:
    try:
        return json.loads(value)
    except ValueError:
        return value.decode(errors="replace")


def of_event(records: list, event_id: str) -> list[dict]:
    return [r for r in records if isinstance(r, dict) and r.get("event_id") == event_id]
