"""Kafka for the bench: reading one event's QUEUE_READY, and the plain producer baseline."""

import asyncio
import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from common.kafka import topics

BASELINE_TOPIC = "BENCH_BASELINE"


@dataclass(slots=True)
class Ready:
    """QUEUE_READY of one event as read back: who, how often, when Kafka had the last one."""

    per_user: dict[str, int] = field(default_factory=dict)
    records: int = 0
    bytes: int = 0
    last_append_ms: int = 0
    last_seen: float = 0.0

    def add(self, user_id: str, size: int, append_ms: int) -> None:
        if user_id not in self.per_user:
            self.last_seen = time.time()
        self.per_user[user_id] = self.per_user.get(user_id, 0) + 1
        self.records += 1
        self.bytes += size
        self.last_append_ms = max(self.last_append_ms, append_ms)


async def partitions(bootstrap: str, topic: str) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    found = [TopicPartition(topic, p["partition"]) for p in described[0]["partitions"]]
    if not found:
        raise RuntimeError(f"Kafka has no topic {topic}")
    return found


async def end_offsets(bootstrap: str, topic: str = topics.QUEUE_READY) -> dict[TopicPartition, int]:
    """Where each partition of `topic` ends now: the bench reads its own messages from here."""
    wanted = await partitions(bootstrap, topic)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        return dict(await consumer.end_offsets(wanted))
    finally:
        await consumer.stop()


async def read_ready(
    bootstrap: str, start: dict[TopicPartition, int], event_id: str, people: int, within_s: float
) -> Ready:
    """Reads QUEUE_READY from `start` until every one of `people` users of the event is seen."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    await consumer.start()
    # QUEUE_READY is keyed by session id, and a session id starts with its event id
    ready, mark = Ready(), f"{event_id}~".encode()
    try:
        consumer.assign(list(start))
        for partition, offset in start.items():
            consumer.seek(partition, offset)
        deadline = time.monotonic() + within_s
        while len(ready.per_user) < people and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200, max_records=20_000)
            for records in batch.values():
                for record in records:
                    if (record.key or b"").startswith(mark):
                        value = record.value or b""
                        ready.add(json.loads(value)["user_id"], len(value), record.timestamp)
    finally:
        await consumer.stop()
    return ready


async def ensure_topic(bootstrap: str, name: str, like: str = topics.QUEUE_READY) -> None:
    """Creates `name` with as many partitions as `like` unless it exists."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        count = len(await partitions(bootstrap, like))
        await admin.create_topics([NewTopic(name, count, 1)])
    except TopicAlreadyExistsError:
        pass
    finally:
        await admin.close()


async def plain_producer(bootstrap: str, count: int, value_size: int) -> dict[str, float]:
    """`count` messages of `value_size` bytes with acks=all and idempotence, as fast as it can.

    Same producer settings as the waitroom's Publisher; keys look like session ids.
    """
    await ensure_topic(bootstrap, BASELINE_TOPIC)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_batch_size=256 * 1024,
    )
    await producer.start()
    run = uuid.uuid4().hex
    bare = len(json.dumps({"message_id": f"{run}-{0:09d}", "pad": ""}))
    pad = "x" * max(0, value_size - bare)
    try:
        started = time.perf_counter()
        pending = []
        for n in range(count):
            value = json.dumps({"message_id": f"{run}-{n:09d}", "pad": pad}).encode()
            pending.append(await producer.send(BASELINE_TOPIC, value, key=f"{run}{n}".encode()))
        await asyncio.gather(*pending)
        elapsed = time.perf_counter() - started
    finally:
        await producer.stop()
    return {
        "messages": count,
        "value_bytes": len(value),
        "seconds": elapsed,
        "rate": count / elapsed,
    }


async def caught_up(
    bootstrap: str, group: str, within_s: float, read: Sequence[str] = (topics.QUEUE_READY,)
) -> bool:
    """Whether consumer `group` committed past everything now in the topics it `read`s,
    within `within_s`."""
    ends: dict[TopicPartition, int] = {}
    for topic in read:
        ends.update(await end_offsets(bootstrap, topic))
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            committed = await admin.list_consumer_group_offsets(group)
            if all(tp in committed and committed[tp].offset >= end for tp, end in ends.items()):
                return True
            await asyncio.sleep(0.5)
        return False
    finally:
        await admin.close()
