"""The flash crowd with watchers, beside the same crowd polling, in the same run.

Everyone joins an open event as fast as the bench's asyncio client goes, and at once holds a
WatchQueueStatus stream (one per person, PER_CHANNEL streams per gRPC channel) until the
final update; the processor admits a tenth of the crowd per cycle, so people wait in a line
for some ten processing intervals. Then a new event and the same crowd again, everyone
polling GetQueueStatus as its next_poll_after_seconds advises. For each side: the time from
each admission (QUEUE_READY's admitted_at) to the moment the person's ADMITTED update, with
its token, reached them; the updates each person received; Redis calls per second (INFO
commandstats, the idle rate measured just before subtracted); CPU per person. Checked: every
join OK, everyone's final update received, ADMITTED with the token QUEUE_READY carried.
"""

import asyncio
import time
from collections.abc import Mapping
from functools import partial
from typing import Any

import grpc
from aiokafka import AIOKafkaConsumer, TopicPartition
from redis.asyncio import Redis

from bench import cpu, kafka_io
from bench.events import Events
from common.kafka.messages import from_json
from demo.watchers import POLL, WATCH, Heard, Listeners, delays, spread, wrong_tokens
from stats.consumer import TOPICS as STATS_TOPICS
from waitroomapi.events.v1 import events_pb2
from waitroomapi.waitroom.v1 import waitroom_pb2 as pb

CYCLES = 10  # the line lasts about this many processing intervals
IDLE_S = 3.0  # how long the idle rate of Redis calls is measured
Ready = dict[str, tuple[float, str]]  # session id -> (admitted_at in seconds, checkout token)


SCRIPT_CALLS = ("cmdstat_evalsha", "cmdstat_eval")


async def redis_calls(redis: Redis) -> tuple[int, int]:
    """(commands, script calls) Redis has served so far (INFO commandstats): commands count
    those a script runs too; the bench's own INFO is left out."""
    stats = await redis.info("commandstats")
    commands = sum(int(v["calls"]) for k, v in stats.items() if k != "cmdstat_info")
    return commands, sum(int(stats.get(k, {}).get("calls", 0)) for k in SCRIPT_CALLS)


async def idle_rate(redis: Redis, bootstrap: str, seconds: float = IDLE_S) -> tuple[float, float]:
    """Redis' rate once checkout and stats have read what the bench's phases before sent."""
    await kafka_io.caught_up(bootstrap, "checkout", within_s=60)
    await kafka_io.caught_up(bootstrap, "stats", within_s=60, read=STATS_TOPICS)
    before = await redis_calls(redis)
    await asyncio.sleep(seconds)
    after = await redis_calls(redis)
    return (after[0] - before[0]) / seconds, (after[1] - before[1]) / seconds


async def read_ready(
    bootstrap: str, start: dict[TopicPartition, int], event_id: str, people: int, within_s: float
) -> Ready:
    """Each person's QUEUE_READY of the event (the first of any duplicates), from `start`."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    ready: Ready = {}
    mark = event_id.encode()  # a cheap filter first: session ids are opaque
    try:
        consumer.assign(list(start))
        for partition, offset in start.items():
            consumer.seek(partition, offset)
        deadline = time.monotonic() + within_s
        while len(ready) < people and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200, max_records=20_000)
            for record in (r for records in batch.values() for r in records):
                if mark in (record.value or b""):
                    message = from_json(record.value or b"", events_pb2.QueueReady())
                    if message.event_id == event_id and message.session_id not in ready:
                        at = message.admitted_at.ToMilliseconds() / 1000
                        ready[message.session_id] = (at, message.checkout_token)
    finally:
        await consumer.stop()
    return ready


async def everyone(
    listeners: Listeners, event_id: str, people: int, concurrency: int, mode: str
) -> tuple[dict[str, Heard], float]:
    """Each person joins (`concurrency` joins in flight) and listens until final; returns what
    each heard and the seconds until the last join."""
    gate, heard, started = asyncio.Semaphore(concurrency), {}, time.time()
    last_join = started

    async def person(n: int) -> None:
        nonlocal last_join
        request = pb.JoinQueueRequest(user_id=f"fw-{n}", event_id=event_id)
        async with gate:
            reply = await listeners.stub(n).JoinQueue(request, timeout=30)
        last_join = max(last_join, time.time())
        heard[reply.session_id] = await listeners.listen(n, reply.session_id, mode)

    await asyncio.gather(*(person(n) for n in range(people)))
    return heard, last_join - started


def check(heard: Mapping[str, Heard], ready: Ready, people: int, mode: str) -> None:
    """Everyone heard their final update, ADMITTED with the token QUEUE_READY carried."""
    errors = sorted({h.error for h in heard.values() if h.error})
    admitted = sum(
        h.status == pb.SESSION_STATUS_ADMITTED and h.final_at > 0 for h in heard.values()
    )
    wrong = wrong_tokens(heard, {s: token for s, (_, token) in ready.items()})
    if errors or len(heard) != people or admitted != people:
        raise AssertionError(f"flash {mode}: {admitted} of {people} heard ADMITTED; {errors}")
    if len(ready) != people or wrong:
        raise AssertionError(f"flash {mode}: QUEUE_READY for {len(ready)}, {wrong} other tokens")


async def side(
    events: Events,
    target: str,
    redis: Redis,
    bootstrap: str,
    event_id: str,
    people: int,
    concurrency: int,
    mode: str,
    groups: Mapping[str, int],
    idle: tuple[float, float],
) -> dict[str, Any]:
    """One crowd, all watching or all polling."""
    start = await kafka_io.end_offsets(bootstrap)
    await events.create(event_id, room=people, batch=max(1, people // CYCLES), tickets=4 * people)
    reading = asyncio.create_task(read_ready(bootstrap, start, event_id, people, within_s=600))
    async with Listeners(target, 1.0 if mode == POLL else 0.0) as listeners:
        calls, client = await redis_calls(redis), time.process_time()
        with cpu.meter(groups) as cost:
            try:
                heard, joined_s = await everyone(listeners, event_id, people, concurrency, mode)
            except (grpc.aio.AioRpcError, AssertionError):
                reading.cancel()
                raise
        after, client = await redis_calls(redis), time.process_time() - client
    ready, elapsed = await reading, cost.wall_s
    check(heard, ready, people, mode)
    commands, scripts = ((a - b) / elapsed - i for a, b, i in zip(after, calls, idle, strict=True))
    return {
        "all_joined_s": joined_s,
        "all_heard_s": elapsed,
        **heard_figures(heard, ready, mode),
        "idle_redis_commands_per_s": idle[0],
        "redis_commands_per_s": commands,
        "redis_script_calls_per_s": scripts,
        "redis_commands_per_person": commands * elapsed / people,
        "client_cpu_us_per_person": round(client / people * 1e6),
        **cost.per(people, "person"),
    }


def heard_figures(heard: Mapping[str, Heard], ready: Ready, mode: str) -> dict[str, Any]:
    return {
        "delay_ms": spread(delays(heard, {s: at for s, (at, _) in ready.items()}, mode)),
        "updates_per_person": sum(h.updates for h in heard.values()) / len(heard),
        "reconnects": sum(h.reconnects for h in heard.values()),
    }


async def crowds(
    events: Events,
    target: str,
    redis_url: str,
    bootstrap: str,
    run: str,
    people: int,
    concurrency: int,
    groups: Mapping[str, int],
) -> dict[str, Any]:
    """The crowd watching, then the same crowd polling (the baseline), and their ratios."""
    redis = Redis.from_url(redis_url)
    try:
        one = partial(side, events, target, redis, bootstrap)
        sides, idle = {}, (0.0, 0.0)
        for mode in (WATCH, POLL):  # each after the stack digested what came before
            idle = await idle_rate(redis, bootstrap)
            sides[mode] = await one(f"{run}-{mode}", people, concurrency, mode, groups, idle)
    finally:
        await redis.aclose()
    watch, poll = sides[WATCH], sides[POLL]
    return {
        "people": people,
        "concurrency": concurrency,
        "batch": max(1, people // CYCLES),
        "idle_redis_commands_per_s": idle[0],
        "idle_redis_script_calls_per_s": idle[1],
        **sides,
        "redis_commands_ratio": ratio(watch, poll, "redis_commands_per_s"),
        "redis_commands_per_person_ratio": ratio(watch, poll, "redis_commands_per_person"),
        "delay_p50_ratio": watch["delay_ms"]["p50"] / max(poll["delay_ms"]["p50"], 1e-9),
    }


def ratio(watch: Mapping[str, Any], poll: Mapping[str, Any], name: str) -> float:
    return float(watch[name]) / max(float(poll[name]), 1e-9)


def lines(result: Mapping[str, Any]) -> list[str]:
    """The table's rows, for bench/report.py."""
    f = result.get("flash_watch")
    if not f:
        return []
    rows = [
        f"Flash crowd, watching vs polling: {f['people']} people each, {f['concurrency']} joins "
        f"in flight, {f['batch']} admitted a cycle; Redis idle "
        f"{f['idle_redis_commands_per_s']:.0f} commands/s (subtracted)",
        f"{'':<10}{'joined s':>9}{'heard s':>8}{'admission to update ms p50/p99/max':>36}"
        f"{'updates':>8}{'commands/s':>11}{'scripts/s':>10}{'per person':>11}",
    ]
    for mode, name in ((WATCH, "watchers"), (POLL, "pollers")):
        s, d = f[mode], f[mode]["delay_ms"]
        rows.append(
            f"{name:<10}{s['all_joined_s']:>9.1f}{s['all_heard_s']:>8.1f}"
            f"{d['p50']:>16.0f} / {d['p99']:>6.0f} / {d['max']:>6.0f}"
            f"{s['updates_per_person']:>8.1f}{s['redis_commands_per_s']:>11.0f}"
            f"{s['redis_script_calls_per_s']:>10.0f}{s['redis_commands_per_person']:>11.1f}"
        )
    rows.append(
        f"watchers / pollers: Redis commands/s {f['redis_commands_ratio']:.2f}, per person "
        f"{f['redis_commands_per_person_ratio']:.2f}, p50 "
        f"{f['delay_p50_ratio']:.2f}; everyone's final update heard, ADMITTED with QUEUE_READY's "
        "token, on both"
    )
    return rows
