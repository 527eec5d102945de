"""Admission throughput: a full line let in at once, QUEUE_READY acknowledged by Kafka.

The line is filled before the event opens (a paused event takes no one in line, so the
bench holds admission back with an opening time an hour away), then the opening moves to
now and the clock starts. The run is timed from Redis, cheaply: the event's admitted_total,
and its outbox stream, which loses an entry only once Kafka acknowledged it. Afterwards
QUEUE_READY is read back to check that every person arrived, and a plain aiokafka producer
sends as many messages of the same size, as the baseline.
"""

import asyncio
import time
from collections.abc import Mapping
from typing import Any

from redis.asyncio import Redis

from bench import cpu, ghz, kafka_io
from bench.events import Events

POLL_S = 0.01


def keys(event_id: str) -> tuple[str, str]:
    return f"waitroom:{{{event_id}}}:config", f"waitroom:{{{event_id}}}:outbox"


async def prefill(events: Events, target: str, event_id: str, people: int) -> dict[str, Any]:
    """`people` unique users join through ghz; raises unless exactly that many wait."""
    await events.create(event_id, room=people, batch=people, tickets=4 * people, opens_in_s=3600)
    load = ghz.Load("JoinQueue", ghz.unique_joins(event_id, "adm-"), 100, people)
    joins = await asyncio.to_thread(ghz.run, target, load)
    waiting = (await events.get(event_id)).queue_length
    if waiting != people:
        raise AssertionError(f"admission: {waiting} in line after {people} joins")
    return joins


async def drained(redis: Redis, outbox: str, within_s: float) -> None:
    """Waits until the outbox is empty (the relay sent every QUEUE_JOINED)."""
    deadline = time.monotonic() + within_s
    while await redis.xlen(outbox):
        if time.monotonic() > deadline:
            raise AssertionError(f"admission: {outbox} not relayed within {within_s:.0f} s")
        await asyncio.sleep(0.1)


async def timed(
    redis: Redis, event_id: str, people: int, opened: float, within_s: float
) -> dict[str, float]:
    """Seconds from opening to the first admission and to the last one Kafka acknowledged."""
    config, outbox = keys(event_id)
    first = 0.0
    while True:
        async with redis.pipeline(transaction=False) as pipe:
            pipe.hget(config, "admitted_total")
            pipe.xlen(outbox)
            admitted_raw, waiting = await pipe.execute()
        admitted, now = int(admitted_raw or 0), time.time()
        first = first or (now if admitted else 0.0)
        if admitted >= people and not waiting:
            if admitted != people:
                raise AssertionError(f"admission: {admitted} admitted of {people} in line")
            return {"first_admission_s": first - opened, "all_acknowledged_s": now - opened}
        if now - opened > within_s:
            raise AssertionError(f"admission: {admitted} of {people} admitted, {waiting} unsent")
        await asyncio.sleep(POLL_S)


def check(ready: kafka_io.Ready, people: int) -> dict[str, int]:
    """Every admitted person's QUEUE_READY arrived; duplicates are allowed (at least once)."""
    users = [u for u in ready.per_user if u.startswith("adm-")]
    if len(users) != people or len(ready.per_user) != people:
        raise AssertionError(f"admission: QUEUE_READY for {len(users)} of {people} people")
    return {"ready_records": ready.records, "duplicates": ready.records - people}


async def measure(
    events: Events,
    target: str,
    redis_url: str,
    bootstrap: str,
    event_id: str,
    people: int,
    groups: Mapping[str, int],
) -> dict[str, Any]:
    """groups: the processes whose CPU is metered from the opening to the last acknowledgement."""
    start = await kafka_io.end_offsets(bootstrap)
    joins = await prefill(events, target, event_id, people)
    redis = Redis.from_url(redis_url, decode_responses=True)
    try:
        await drained(redis, keys(event_id)[1], within_s=120)
        with cpu.meter(groups) as reading:
            opened = await events.open_now(event_id)
            times = await timed(redis, event_id, people, opened, within_s=600)
    finally:
        await redis.aclose()
    ready = await kafka_io.read_ready(bootstrap, start, event_id, people, within_s=180)
    counts = check(ready, people)
    baseline = await kafka_io.plain_producer(bootstrap, people, ready.bytes // ready.records)
    rate = people / times["all_acknowledged_s"]
    return {
        "people": people,
        "prefill_joins_rps": joins["rps"],
        **times,
        **counts,
        "ready_value_bytes": ready.bytes // ready.records,
        "rate": rate,
        "baseline": baseline,
        "ratio": rate / baseline["rate"],
        **reading.per(people, "person"),
    }
