"""The shared Kafka plumbing on the real broker: batched publishing and the consume loop."""

import asyncio
import time
import uuid

from aiokafka import AIOKafkaProducer
from prometheus_client import CollectorRegistry
from redis.exceptions import ConnectionError as RedisConnectionError

from common.kafka import topics
from common.kafka.consumer import EACH_RECORD, ConsumerMetrics, EventConsumer
from common.kafka.handlers import each_record
from common.kafka.publisher import Publisher, Record
from tests.integration.conftest import KAFKA


async def test_batched_records_go_to_the_partitions_send_picks_in_order(kafka_tail):
    tag = uuid.uuid4().hex
    tail = await kafka_tail(topics.QUEUE_LEFT)
    keys = [f"{tag}-{n % 40}" for n in range(200)]  # 40 keys, five records each
    publisher = Publisher(KAFKA, 10, "test")
    try:
        await publisher.publish(
            [Record(topics.QUEUE_LEFT, k, str(n).encode()) for n, k in enumerate(keys)]
        )
    finally:
        await publisher.stop()
    batched = await tail.collect(lambda r: r.key.decode().startswith(tag), count=200)

    plain = AIOKafkaProducer(bootstrap_servers=KAFKA)
    await plain.start()
    try:
        sent = [
            await plain.send_and_wait(topics.QUEUE_LEFT, b"-", key=f"{k}".encode())
            for k in keys[:40]
        ]
    finally:
        await plain.stop()
    picked = {k: metadata.partition for k, metadata in zip(keys[:40], sent, strict=True)}
    assert {r.key.decode(): r.partition for r in batched} == picked
    per_key: dict[str, list[int]] = {}
    for record in batched:
        per_key.setdefault(record.key.decode(), []).append(int(record.value))
    assert all(values == sorted(values) for values in per_key.values())  # order kept per key


async def test_concurrent_one_record_publishes_join_the_open_batch(kafka_tail, monkeypatch):
    """A consumer dead-letters a whole fetch at once: 500 one-record calls on one partition.
    Each packed alone, aiokafka would send them one round trip after another (seconds under
    load, past the send timeout); by `send` they join the partition's open batch."""
    packed = []
    send_batch = AIOKafkaProducer.send_batch

    async def counted(self, *args, **kwargs):
        packed.append(args)
        return await send_batch(self, *args, **kwargs)

    monkeypatch.setattr(AIOKafkaProducer, "send_batch", counted)
    tag = uuid.uuid4().hex
    tail = await kafka_tail(topics.QUEUE_LEFT)
    publisher = Publisher(KAFKA, 10, "test")
    try:
        await asyncio.gather(
            *(
                publisher.publish([Record(topics.QUEUE_LEFT, f"{tag}-k", str(n).encode())])
                for n in range(500)
            )
        )
    finally:
        await publisher.stop()
    records = await tail.collect(lambda r: r.key.decode().startswith(tag), count=500)
    assert sorted(int(r.value) for r in records) == list(range(500))
    assert packed == []


def consumer(group: str, handler, registry: CollectorRegistry) -> EventConsumer:
    return EventConsumer(
        bootstrap_servers=KAFKA,
        group_id=group,
        topic_names=(topics.QUEUE_LEFT,),
        handler=each_record(handler, attempts=2, delay=0.01),
        dead_letters=Publisher(KAFKA, 10, "test"),
        metrics=ConsumerMetrics(registry, "test"),
        retry_delays=(0.01,),
        **EACH_RECORD,
        offset_reset="latest",
    )


async def test_a_record_that_meets_a_redis_outage_is_read_again_not_dead_lettered():
    tag = uuid.uuid4().hex
    applied: list[str] = []
    outage = {"calls": 0}

    async def handle(record):
        key = (record.key or b"").decode()
        if not key.startswith(tag):
            return
        if key == f"{tag}-7" and outage["calls"] < 5:  # Redis away for this record's tries
            outage["calls"] += 1
            raise RedisConnectionError("Redis is away")
        applied.append(key)

    registry = CollectorRegistry()
    loop = consumer(f"consumer-{tag}", handle, registry)
    await loop.start()
    await asyncio.wait_for(loop.wait_assigned(), 30)
    running = asyncio.create_task(loop.run())
    publisher = Publisher(KAFKA, 10, "test")
    try:
        await publisher.publish([Record(topics.QUEUE_LEFT, f"{tag}-{n}", b"{}") for n in range(20)])
    finally:
        await publisher.stop()
    deadline = time.monotonic() + 30
    while f"{tag}-7" not in applied and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    await loop.stop()
    await running
    await loop.stop()  # a second stop returns at once
    assert outage["calls"] == 5  # it met the outage more often than its retries allow
    assert f"{tag}-7" in applied  # and was applied once Redis was back
    assert set(applied) == {f"{tag}-{n}" for n in range(20)}
    dead = registry.get_sample_value("test_dead_lettered_total", {"topic": topics.QUEUE_LEFT})
    assert not dead  # nothing went to the DLQ


async def test_a_batch_that_meets_a_redis_outage_is_retried_not_dead_lettered():
    """Before the one loop, the pooled path dead-lettered a batch once its retries ran out."""
    tag, applied, outage = uuid.uuid4().hex, [], {"calls": 0}

    async def handle(records):
        mine = [(r.key or b"").decode() for r in records]
        mine = [key for key in mine if key.startswith(tag)]
        if mine and outage["calls"] < 6:  # more failures than its three retry delays
            outage["calls"] += 1
            raise RedisConnectionError("Redis is away")
        applied.extend(mine)
        return []

    registry = CollectorRegistry()
    async with EventConsumer(
        bootstrap_servers=KAFKA,
        group_id=f"consumer-{tag}",
        topic_names=(topics.QUEUE_LEFT,),
        handler=handle,
        dead_letters=Publisher(KAFKA, 10, "test"),
        metrics=ConsumerMetrics(registry, "test"),
        retry_delays=(0.01, 0.01, 0.01),
        batch_size=50,
        offset_reset="latest",
    ) as loop:
        await asyncio.wait_for(loop.wait_assigned(), 30)
        running = asyncio.create_task(loop.run())
        publisher = Publisher(KAFKA, 10, "test")
        try:
            await publisher.publish(
                [Record(topics.QUEUE_LEFT, f"{tag}-{n}", b"{}") for n in range(10)]
            )
        finally:
            await publisher.stop()
        deadline = time.monotonic() + 30
        while len(set(applied)) < 10 and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    await running
    assert outage["calls"] == 6
    assert set(applied) == {f"{tag}-{n}" for n in range(10)}
    dead = registry.get_sample_value("test_dead_lettered_total", {"topic": topics.QUEUE_LEFT})
    assert not dead
