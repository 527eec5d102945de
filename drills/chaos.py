"""Kafka misbehaving: every record of the drill's event sent again in reverse order, garbage on
every topic, and members of the services' consumer groups added and killed every few seconds."""

import asyncio
import json
import sys

from aiokafka import AIOKafkaProducer

from common.kafka import topics
from drills import cluster
from drills.run import Context
from drills.topics_read import of_event, read_all

GARBAGE = (
    b"",
    b"not json at all",
    b"\xff\xfe\x00\x01",
    b'{"message_id": 42}',
    b'{"message_id": "g", "session_id": "no-such-session", "event_id": "garbage-event"}',
    b"[1, 2, 3]",
)


async def replay_reversed(ctx: Context, producer: AIOKafkaProducer) -> int:
    """This event's records so far, once more each, newest first (so out of order)."""
    found = await read_all(cluster.KAFKA, topics.ALL)
    sent = 0
    for topic in topics.ALL:
        for record in reversed(of_event(found.get(topic, []), ctx.event_id)):
            key = str(record.get("session_id") or record.get("event_id")).encode()
            value = _json(record)
            await producer.send(topic, value, key=key)
            sent += 1
    await producer.flush()
    return sent


def _json(record: dict) -> bytes:
    return json.dumps(record).encode()


async def garbage(producer: AIOKafkaProducer) -> int:
    for topic in topics.ALL:
        for value in GARBAGE:
            await producer.send(topic, value, key=b"garbage")
    await producer.flush()
    return len(topics.ALL) * len(GARBAGE)


async def members_come_and_go(ctx: Context, rounds: int) -> None:
    for _ in range(rounds):
        member = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "drills.member", cwd=cluster.ROOT
        )
        await asyncio.sleep(4)
        cluster.kill(member.pid)
        await member.wait()
        await asyncio.sleep(1)
    ctx.note(f"{rounds} rounds of extra group members started and killed (kill -9)")


async def kafka_chaos(ctx: Context) -> None:
    """records sent twice and out of order, garbage on every topic, group members killed"""
    producer = AIOKafkaProducer(bootstrap_servers=cluster.KAFKA, acks="all")
    await producer.start()
    try:
        members = asyncio.create_task(members_come_and_go(ctx, rounds=4))
        ctx.note(f"{await garbage(producer)} garbage records sent")
        ctx.note(
            f"{await replay_reversed(ctx, producer)} records of the event sent again, reversed"
        )
        await asyncio.sleep(5)
        ctx.note(f"{await replay_reversed(ctx, producer)} records sent again, reversed")
        ctx.note(f"{await garbage(producer)} garbage records sent")
        await members
    finally:
        await producer.stop()
