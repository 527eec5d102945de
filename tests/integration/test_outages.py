"""A dependency outage, for real: a redis-server of the test's own killed and started again."""

import asyncio
import time
import uuid

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from common.kafka import topics
from common.kafka.messages import timestamp_ms, to_json
from common.kafka.publisher import Publisher, Record
from common.process.grpc_server import LIVENESS
from common.tokens.ids import make_session_id
from tests.integration.conftest import ADMIN, KAFKA, create_event
from waitroomapi.events.v1 import events_pb2 as ev
from waitroomapi.stats.v1 import stats_pb2 as pb
from waitroomapi.stats.v1 import stats_pb2_grpc as pb_grpc
from waitroomapi.waitroom.v1 import waitroom_pb2, waitroom_pb2_grpc

JOINS = 30
RETRY_DELAYS = [0.1, 0.2, 0.3]  # the outage lasts far longer than these


def joins(event_id: str, count: int) -> list[Record]:
    now = int(time.time() * 1000)
    records = []
    for n in range(count):
        session = make_session_id(event_id, f"{n:0>22}")
        joined = ev.QueueJoined(
            message_id=f"{event_id}-j{n}",
            session_id=session,
            user_id=f"fan{n}",
            event_id=event_id,
            timestamp=timestamp_ms(now),
            joined_at=timestamp_ms(now),
        )
        records.append(Record(topics.QUEUE_JOINED, session, to_json(joined)))
    return records


async def publish(records: list[Record]) -> None:
    publisher = Publisher(KAFKA, 10, "test")
    try:
        await publisher.publish(records)
    finally:
        await publisher.stop()


async def joined_count(stub, event_id: str) -> int:
    try:
        return (await stub.GetEventStats(pb.GetEventStatsRequest(event_id=event_id))).joined
    except grpc.aio.AioRpcError:  # NOT_FOUND before the first record, UNAVAILABLE without Redis
        return 0


async def until(condition, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while not await condition():
        assert time.monotonic() < deadline, "gave up waiting"
        await asyncio.sleep(0.1)


def sample(server, name: str, **labels: str) -> float:
    return server.registry.get_sample_value(name, labels) or 0.0


async def test_stats_waits_out_a_redis_outage_and_dead_letters_no_valid_record(
    start_stats, throwaway_redis, kafka_tail
):
    event_id = f"out-{uuid.uuid4().hex[:10]}"
    dlq = await kafka_tail(topics.dead_letter(topics.QUEUE_JOINED))
    server = await start_stats(redis_url=throwaway_redis.url, stats_retry_delays=RETRY_DELAYS)
    await throwaway_redis.kill()
    await publish(joins(event_id, JOINS))

    async def retried_past_its_delays() -> bool:  # the records met the outage, again and again
        return server.consumer.pool.state().retried > 2 * len(RETRY_DELAYS)

    await until(retried_past_its_delays)
    await throwaway_redis.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        stub = pb_grpc.StatsServiceStub(channel)

        async def all_applied() -> bool:
            return await joined_count(stub, event_id) == JOINS

        await until(all_applied)
        assert await joined_count(stub, event_id) == JOINS
    topic = topics.QUEUE_JOINED
    assert sample(server, "stats_consumed_total", topic=topic) >= JOINS
    assert sample(server, "stats_dead_lettered_total", topic=topic) == 0
    assert server.consumer.pool.state().dead_lettered == 0
    mine = await dlq.collect(lambda r: r.value and event_id.encode() in r.value, 1, within=3)
    assert mine == []


FAST_WATCH = {"health_probe_interval": 0.1, "health_failure_window": 0.5}


async def health_of(channel, service: str = "") -> str:
    reply = await health_pb2_grpc.HealthStub(channel).Check(
        health_pb2.HealthCheckRequest(service=service), timeout=5
    )
    return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)


def up(server, dependency: str = "redis") -> float | None:
    name = f"{server.name}_dependency_up"
    return server.registry.get_sample_value(name, {"dependency": dependency})


async def test_readiness_follows_redis_through_an_outage_and_liveness_stays_up(
    start_server, start_checkout, start_stats, throwaway_redis
):
    waitroom = await start_server(redis_url=throwaway_redis.url, **FAST_WATCH)
    checkout = await start_checkout(waitroom, redis_url=throwaway_redis.url, **FAST_WATCH)
    stats = await start_stats(redis_url=throwaway_redis.url, **FAST_WATCH)
    servers = (waitroom, checkout, stats)
    channels = [grpc.aio.insecure_channel(f"127.0.0.1:{s.port}") for s in servers]
    queue = waitroom_pb2_grpc.WaitroomServiceStub(channels[0])

    async def everyone(status: str) -> bool:
        return all([await health_of(c) == status for c in channels])

    async def running() -> bool:
        return (await queue.HealthCheck(waitroom_pb2.HealthCheckRequest())).running

    try:
        assert await everyone("SERVING")
        assert await running()
        await throwaway_redis.kill()
        await until(lambda: everyone("NOT_SERVING"))
        assert not await running()
        assert [await health_of(c, LIVENESS) for c in channels] == ["SERVING"] * 3
        assert [up(s) for s in servers] == [0, 0, 0]
        await throwaway_redis.start()
        await until(lambda: everyone("SERVING"))
        assert await running()
        assert [up(s) for s in servers] == [1, 1, 1]
        assert [up(s, "kafka") for s in servers] == [1, 1, 1]  # reported, never gating
        assert [await health_of(c, LIVENESS) for c in channels] == ["SERVING"] * 3
    finally:
        for channel in channels:
            await channel.close()


async def test_the_waitroom_waits_out_a_redis_outage_and_dead_letters_no_valid_record(
    start_server, channel_to, throwaway_redis
):
    # one try per record and batch: each try already waits out the script batcher's own retries
    server = await start_server(redis_url=throwaway_redis.url, queue_retry_attempts=1)
    channel = channel_to(server)
    events = [f"sold-{uuid.uuid4().hex[:8]}-{n}" for n in range(5)]
    for event_id in events:
        await create_event(channel, event_id)
    await throwaway_redis.kill()
    sold_out = [
        Record(topics.EVENT_SOLD_OUT, e, to_json(ev.EventSoldOut(message_id=f"{e}-s", event_id=e)))
        for e in events
    ]
    await publish(sold_out)
    retries = "waitroom_consume_retries_total"

    async def retried_past_its_delays() -> bool:  # a third try, after its one retry delay
        return sample(server, retries, topic=topics.EVENT_SOLD_OUT) >= 2 * len(events)

    # each try waits out the batcher's 10 s of retries: ten tries take 100 s or more
    await until(retried_past_its_delays, within=180)
    await throwaway_redis.start()
    admin = waitroom_pb2_grpc.AdminServiceStub(channel)

    async def all_sold_out() -> bool:
        try:
            listed = await admin.ListEvents(waitroom_pb2.ListEventsRequest(), metadata=ADMIN)
        except grpc.aio.AioRpcError:
            return False
        return sum(e.sold_out for e in listed.events if e.event_id in events) == len(events)

    await until(all_sold_out, within=60)
    assert sample(server, "waitroom_consumed_total", topic=topics.EVENT_SOLD_OUT) >= len(events)
    assert sample(server, "waitroom_dead_lettered_total", topic=topics.EVENT_SOLD_OUT) == 0
