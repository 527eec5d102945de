"""Stats from a recorded stream replayed through the real Kafka, checked against figures
computed here independently; replays, replicas, poison, backpressure and shutdown."""

import asyncio
import math
import random
import time
import uuid

import grpc
import pytest
from prometheus_client import CollectorRegistry

from common.kafka import topics
from common.kafka.consumer import ConsumerMetrics, EventConsumer
from common.kafka.messages import from_json, timestamp_ms, to_json
from common.kafka.publisher import Publisher, Record
from common.kafka.records import PoisonMessageError
from common.tokens.ids import make_session_id
from tests.integration.conftest import KAFKA
from waitroomapi.events.v1 import events_pb2 as ev
from waitroomapi.stats.v1 import stats_pb2 as pb
from waitroomapi.stats.v1 import stats_pb2_grpc as pb_grpc

T0 = int(time.time() * 1000) - 600_000  # ten minutes ago: nothing counts as "last minute"


def recorded_stream(event_id: str) -> tuple[list[Record], dict]:
    """60 people: 45 admitted (20 buy, 10 expire, 5 cancel, 10 still in checkout), 5 leave."""
    rng = random.Random(event_id)
    records = [
        Record(
            topics.EVENT_UPDATED,
            event_id,
            to_json(
                ev.EventUpdated(
                    message_id=f"{event_id}-u1",
                    event_id=event_id,
                    version=1,
                    tickets=50,
                    state="open",
                )
            ),
        )
    ]
    waits, checkout_times, sold = [], [], 0
    for i in range(60):
        sid = make_session_id(event_id, f"{i:0>22}")
        user, joined = f"fan{i}", T0 + i * 100
        records.append(
            Record(
                topics.QUEUE_JOINED,
                sid,
                to_json(
                    ev.QueueJoined(
                        message_id=f"j{i}",
                        session_id=sid,
                        user_id=user,
                        event_id=event_id,
                        timestamp=timestamp_ms(joined),
                        joined_at=timestamp_ms(joined),
                    )
                ),
            )
        )
        if i >= 45:
            if i < 50:
                records.append(
                    Record(
                        topics.QUEUE_LEFT,
                        sid,
                        to_json(
                            ev.QueueLeft(
                                message_id=f"l{i}",
                                session_id=sid,
                                user_id=user,
                                event_id=event_id,
                                timestamp=timestamp_ms(joined + 5000),
                                reason="left",
                            )
                        ),
                    )
                )
            continue
        admitted = joined + rng.randint(1_000, 30_000)
        waits.append(admitted - joined)
        records.append(
            Record(
                topics.QUEUE_READY,
                sid,
                to_json(
                    ev.QueueReady(
                        message_id=f"r{i}",
                        session_id=sid,
                        user_id=user,
                        event_id=event_id,
                        admitted_at=timestamp_ms(admitted),
                        timestamp=timestamp_ms(admitted),
                    )
                ),
            )
        )
        ended = admitted + rng.randint(500, 9_000)
        end = timestamp_ms(ended)
        if i < 20:
            quantity = i % 2 + 1
            sold += quantity
            outcome = (
                topics.CHECKOUT_COMPLETED,
                ev.CheckoutCompleted(
                    message_id=f"c{i}",
                    session_id=sid,
                    user_id=user,
                    event_id=event_id,
                    timestamp=end,
                    order_id=f"o{i}",
                    quantity=quantity,
                ),
            )
        elif i < 30:
            outcome = (
                topics.CHECKOUT_EXPIRED,
                ev.CheckoutExpired(
                    message_id=f"x{i}",
                    session_id=sid,
                    user_id=user,
                    event_id=event_id,
                    timestamp=end,
                    reason="timeout",
                ),
            )
        elif i < 35:
            outcome = (
                topics.CHECKOUT_CANCELLED,
                ev.CheckoutCancelled(
                    message_id=f"k{i}",
                    session_id=sid,
                    user_id=user,
                    event_id=event_id,
                    timestamp=end,
                ),
            )
        else:
            continue
        checkout_times.append(ended - admitted)
        records.append(Record(outcome[0], sid, to_json(outcome[1])))
    rng.shuffle(records)  # delivery order must not matter

    def nearest_rank(values, q):
        ordered = sorted(values)
        return ordered[max(math.ceil(q / 100 * len(ordered)) - 1, 0)] / 1000

    expected = {
        "joined": 60,
        "queued_now": 10,
        "admitted": 45,
        "in_checkout_now": 10,
        "completed": 20,
        "expired": 10,
        "cancelled": 5,
        "left": 5,
        "sold_out": False,
        "tickets_total": 50,
        "tickets_sold": sold,
        "tickets_left": 50 - sold,
        "conversion_rate": pytest.approx(20 / 45),
        "wait_seconds": [pytest.approx(nearest_rank(waits, q)) for q in (50, 90, 99)],
        "checkout_seconds": [pytest.approx(nearest_rank(checkout_times, q)) for q in (50, 90)],
        "admission_rate_per_second": 0.0,
        "estimated_clear_seconds": 0,
    }
    return records, expected


def observed(stats: pb.EventStats) -> dict:
    return {
        "joined": stats.joined,
        "queued_now": stats.queued_now,
        "admitted": stats.admitted,
        "in_checkout_now": stats.in_checkout_now,
        "completed": stats.completed,
        "expired": stats.expired,
        "cancelled": stats.cancelled,
        "left": stats.left,
        "sold_out": stats.sold_out,
        "tickets_total": stats.tickets_total,
        "tickets_sold": stats.tickets_sold,
        "tickets_left": stats.tickets_left,
        "conversion_rate": stats.conversion_rate,
        "wait_seconds": [stats.wait_seconds.p50, stats.wait_seconds.p90, stats.wait_seconds.p99],
        "checkout_seconds": [stats.checkout_seconds.p50, stats.checkout_seconds.p90],
        "admission_rate_per_second": stats.admission_rate_per_second,
        "estimated_clear_seconds": stats.estimated_clear_seconds,
    }


async def publish(records: list[Record]) -> None:
    publisher = Publisher(KAFKA, 10, "test")
    try:
        await publisher.publish(records)
    finally:
        await publisher.stop()


async def settled(stub, event_id, expected, within=30.0) -> dict:
    deadline = time.monotonic() + within
    seen = {}
    while time.monotonic() < deadline:
        try:
            seen = observed(await stub.GetEventStats(pb.GetEventStatsRequest(event_id=event_id)))
        except grpc.aio.AioRpcError as error:  # NOT_FOUND until the first record is applied
            if error.code() != grpc.StatusCode.NOT_FOUND:
                raise
        if seen == expected:
            break
        await asyncio.sleep(0.2)
    return seen


def applied(server) -> float:
    """Records the server's consumer applied so far (its batches count every record)."""
    return sum(
        sample.value
        for metric in server.registry.collect()
        for sample in metric.samples
        if sample.name == "stats_consumed_total"
    )


@pytest.fixture
async def stats_event(redis):
    event_id = f"st-{uuid.uuid4().hex[:10]}"
    yield event_id
    keys = [k async for k in redis.scan_iter(match=f"stats:{{{event_id}}}:*", count=1000)]
    if keys:
        await redis.delete(*keys)
    await redis.srem("stats:events", event_id)


async def test_a_recorded_stream_gives_exactly_the_expected_figures_even_when_replayed(
    start_stats, stats_event
):
    server = await start_stats()
    records, expected = recorded_stream(stats_event)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        stub = pb_grpc.StatsServiceStub(channel)
        await publish(records)
        assert await settled(stub, stats_event, expected) == expected
        before = applied(server)
        await publish(records)  # the same stream delivered a second time
        deadline = time.monotonic() + 30
        while applied(server) < before + len(records):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
        assert (
            observed(await stub.GetEventStats(pb.GetEventStatsRequest(event_id=stats_event)))
            == expected
        )
        user = await stub.GetUserStats(pb.GetUserStatsRequest(user_id="fan3", event_id=stats_event))
        assert [(s.outcome, s.tickets) for s in user.sessions] == [("completed", 2)]
        assert user.sessions[0].wait_seconds > 0


async def test_a_stream_delivered_twice_at_once_counts_once_in_batches(start_stats, stats_event):
    server = await start_stats()
    records, expected = recorded_stream(stats_event)
    await publish(records + records)  # every message twice, in the same batches
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        assert await settled(pb_grpc.StatsServiceStub(channel), stats_event, expected) == expected
    # the pool's tasks were batches: fewer tasks than records applied
    assert server.consumer.pool.state().processed < applied(server)


async def test_two_replicas_sharing_the_stream_give_the_same_figures(start_stats, stats_event):
    first = await start_stats()
    await start_stats()
    records, expected = recorded_stream(stats_event)
    await publish(records)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{first.port}") as channel:
        assert await settled(pb_grpc.StatsServiceStub(channel), stats_event, expected) == expected


async def test_poison_reaches_the_dlq_and_stats_keeps_consuming(
    start_stats, stats_event, kafka_tail
):
    dlq = await kafka_tail(topics.dead_letter(topics.QUEUE_JOINED))
    server = await start_stats()
    records, expected = recorded_stream(stats_event)
    await publish([Record(topics.QUEUE_JOINED, stats_event, b"\x00 not an event"), *records])
    letters = await dlq.collect(lambda r: r.key == stats_event.encode(), count=1)
    letter = from_json(letters[0].value, ev.DeadLetter())
    assert (letter.topic, letter.value) == (topics.QUEUE_JOINED, "\x00 not an event")
    assert "not a valid QueueJoined" in letter.error
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        assert await settled(pb_grpc.StatsServiceStub(channel), stats_event, expected) == expected


def tagged_records(tag: str, count: int) -> list[Record]:
    return [Record(topics.QUEUE_LEFT, f"{tag}-{n}", b"{}") for n in range(count)]


def slow_consumer(group: str, seen: list[str], tag: str, capacity: int) -> EventConsumer:
    async def handle(records):
        for record in records:
            key = (record.key or b"").decode()
            if key.startswith(tag):
                await asyncio.sleep(0.02)
                seen.append(key)
        return []

    return consumer_of(group, handle, capacity=capacity)


def consumer_of(group: str, handler, **options) -> EventConsumer:
    settings = {"workers": 1, "capacity": 10, "retry_delays": (), **options}
    return EventConsumer(
        bootstrap_servers=KAFKA,
        group_id=group,
        topic_names=(topics.QUEUE_LEFT,),
        handler=handler,
        dead_letters=Publisher(KAFKA, 10, "test"),
        metrics=ConsumerMetrics(CollectorRegistry(), "test"),
        offset_reset="latest",
        **settings,
    )


def letters_of(group: str):
    """Whether a dead letter came from `group` (the stack's own stats may dead-letter too)."""
    return lambda r: from_json(r.value, ev.DeadLetter()).consumer_group == group


def keys_of(records, tag: str) -> list[str]:
    return [k for k in ((r.key or b"").decode() for r in records) if k.startswith(tag)]


async def test_a_batch_sends_only_its_poison_to_the_dlq_and_applies_the_rest(kafka_tail):
    tag, applied_keys, sizes = uuid.uuid4().hex, [], []

    async def handle(records):
        mine = [r for r in records if keys_of([r], tag)]
        sizes.append(len(mine))
        poison = [(r, PoisonMessageError("unreadable")) for r in mine if r.key.endswith(b"-bad")]
        applied_keys.extend(keys_of([r for r in mine if not r.key.endswith(b"-bad")], tag))
        return poison

    dlq = await kafka_tail(topics.dead_letter(topics.QUEUE_LEFT))
    group = f"pool-{tag}"
    consumer = consumer_of(group, handle, batch_size=50)
    await consumer.start()
    await asyncio.wait_for(consumer.wait_assigned(), 30)
    running = asyncio.create_task(consumer.run())
    bad = [Record(topics.QUEUE_LEFT, f"{tag}-{n}-bad", b"?") for n in range(3)]
    await publish([*tagged_records(tag, 20), *bad, *tagged_records(f"{tag}-more", 20)])
    letters = await dlq.collect(letters_of(group), count=3)
    deadline = time.monotonic() + 30
    while len(applied_keys) < 40 and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    await consumer.stop(grace=5)
    running.cancel()
    assert sorted(keys_of(letters, tag)) == sorted(r.key for r in bad)
    assert all("unreadable" in from_json(r.value, ev.DeadLetter()).error for r in letters)
    assert len(applied_keys) == len(set(applied_keys)) == 40
    assert max(sizes) > 1  # records really were applied in batches


async def test_a_record_that_fails_its_batch_goes_to_the_dlq_alone(kafka_tail):
    tag, applied_keys = uuid.uuid4().hex, []

    async def handle(records):
        mine = keys_of(records, tag)
        if f"{tag}-7" in mine:  # e.g. a key of the wrong type in Redis: its script fails
            raise RuntimeError("WRONGTYPE for record 7")
        applied_keys.extend(mine)
        return []

    dlq = await kafka_tail(topics.dead_letter(topics.QUEUE_LEFT))
    group = f"pool-{tag}"
    consumer = consumer_of(group, handle, batch_size=50, retry_delays=(0.01,))
    await consumer.start()
    await asyncio.wait_for(consumer.wait_assigned(), 30)
    running = asyncio.create_task(consumer.run())
    await publish(tagged_records(tag, 12))
    letters = await dlq.collect(letters_of(group), count=1)
    deadline = time.monotonic() + 30
    while len(set(applied_keys)) < 11 and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    await consumer.stop(grace=5)
    running.cancel()
    assert keys_of(letters, tag) == [f"{tag}-7"]
    assert "WRONGTYPE" in from_json(letters[0].value, ev.DeadLetter()).error
    assert set(applied_keys) == {f"{tag}-{n}" for n in range(12) if n != 7}


async def test_a_batch_that_keeps_failing_is_dead_lettered_record_by_record(kafka_tail):
    tag, attempts = uuid.uuid4().hex, []

    async def handle(records):
        if keys_of(records, tag):
            attempts.append(len(records))
            raise RuntimeError("the store refused the batch")
        return []

    dlq = await kafka_tail(topics.dead_letter(topics.QUEUE_LEFT))
    group = f"pool-{tag}"
    consumer = consumer_of(group, handle, batch_size=50, retry_delays=(0.01, 0.01))
    await consumer.start()
    await asyncio.wait_for(consumer.wait_assigned(), 30)
    running = asyncio.create_task(consumer.run())
    await publish(tagged_records(tag, 12))
    letters = await dlq.collect(letters_of(group), count=12)
    await consumer.stop(grace=5)
    running.cancel()
    assert sorted(keys_of(letters, tag)) == sorted(f"{tag}-{n}" for n in range(12))
    assert all("refused the batch" in from_json(r.value, ev.DeadLetter()).error for r in letters)
    assert len(attempts) >= 3  # every batch was tried three times before giving up


async def test_a_full_buffer_pauses_consumption_and_loses_nothing():
    tag, seen, paused = uuid.uuid4().hex, [], []
    consumer = slow_consumer(f"pool-{tag}", seen, tag, capacity=2)
    await consumer.start()
    await asyncio.wait_for(consumer.wait_assigned(), 30)
    running = asyncio.create_task(consumer.run())
    await publish(tagged_records(tag, 40))
    deadline = time.monotonic() + 30
    while len(set(seen)) < 40 and time.monotonic() < deadline:
        paused.append(consumer.paused)
        await asyncio.sleep(0.005)
    await consumer.stop(grace=5)
    running.cancel()
    assert max(paused) > 0  # fetching stopped while the buffer was full
    assert set(seen) == {f"{tag}-{n}" for n in range(40)}


async def test_shutdown_in_the_middle_of_a_stream_loses_nothing():
    tag, seen = uuid.uuid4().hex, []
    group = f"pool-{tag}"
    first = slow_consumer(group, seen, tag, capacity=10)
    await first.start()
    await asyncio.wait_for(first.wait_assigned(), 30)
    running = asyncio.create_task(first.run())
    await publish(tagged_records(tag, 60))
    while len(seen) < 10:  # noqa: ASYNC110 (the handler appends; polling is the simple way)
        await asyncio.sleep(0.01)
    await first.stop(grace=0.05)  # some work finishes, the rest is handed back uncommitted
    running.cancel()
    handled_before = len(set(seen))
    assert handled_before < 60

    second = slow_consumer(group, seen, tag, capacity=10)
    await second.start()
    running = asyncio.create_task(second.run())
    deadline = time.monotonic() + 30
    while len(set(seen)) < 60 and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    await second.stop(grace=5)
    running.cancel()
    assert set(seen) == {f"{tag}-{n}" for n in range(60)}
