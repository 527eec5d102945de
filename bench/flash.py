"""A flash crowd end to end: everyone joins at once through ghz, everyone's QUEUE_READY is read.

The event is open with room for the whole crowd, so the queue processor admits people
while others are still joining. The clock runs from the first join to the timestamp of the
last QUEUE_READY (set when the relay sent it) and to the moment the bench had read it.
"""

import asyncio
import time
from collections.abc import Mapping
from typing import Any

from bench import cpu, ghz, kafka_io
from bench.events import Events


async def crowd(
    events: Events,
    target: str,
    bootstrap: str,
    event_id: str,
    people: int,
    concurrency: int,
    groups: Mapping[str, int],
) -> dict[str, Any]:
    """groups: the processes whose CPU is metered from the first join to the last QUEUE_READY."""
    start = await kafka_io.end_offsets(bootstrap)
    await events.create(event_id, room=people, batch=people, tickets=4 * people)
    reading = asyncio.create_task(
        kafka_io.read_ready(bootstrap, start, event_id, people, within_s=600)
    )
    with cpu.meter(groups) as cost:
        started = time.time()
        load = ghz.Load("JoinQueue", ghz.unique_joins(event_id, "fan-"), concurrency, people)
        try:
            joins = await asyncio.to_thread(ghz.run, target, load)
        except BaseException:
            reading.cancel()
            raise
        joined_s = time.time() - started
        ready = await reading
    view = await events.get(event_id)
    check(ready, people, view.total_admitted)
    return {
        "people": people,
        "concurrency": concurrency,
        "joins": joins,
        "all_joined_s": joined_s,
        "last_ready_s": ready.last_append_ms / 1000 - started,
        "last_ready_read_s": ready.last_seen - started,
        "ready_records": ready.records,
        "duplicates": ready.records - people,
        **cost.per(people, "person"),
    }


def check(ready: kafka_io.Ready, people: int, admitted: int) -> None:
    """Every join admitted once and announced at least once: nobody lost, nobody extra."""
    if admitted != people:
        raise AssertionError(f"flash crowd: {admitted} admitted of {people} who joined")
    if len(ready.per_user) != people or not all(u.startswith("fan-") for u in ready.per_user):
        raise AssertionError(f"flash crowd: QUEUE_READY for {len(ready.per_user)} of {people}")
