"""GetQueueStatus from memory on real servers, Redis and Kafka: every waiting person's position
matches Redis's (exactly at the front, within one line bucket behind) without a Redis call per
read, and an admission, a leave and a pause reach another replica's answers within one
processing interval."""

import asyncio
import time
from datetime import timedelta

import pytest

from common.kafka import topics
from common.kafka.messages import from_json
from tests.integration.conftest import ADMIN, create_event
from tests.integration.test_watch import ADMITTING, BOUND, WATCHING, measured
from waitroom import line_store
from waitroom.models import NotFoundError
from waitroomapi.events.v1 import events_pb2
from waitroomapi.waitroom.v1 import waitroom_pb2 as pb
from waitroomapi.waitroom.v1 import waitroom_pb2_grpc as pb_grpc

PEOPLE = 1500
EXACT = 1000  # LinesConfig.exact: positions at the front are exact
PER_BUCKET = 64  # later joiners share a line bucket 64 at a time


def reads(server, source: str) -> float:
    value = server.registry.get_sample_value("waitroom_status_reads_total", {"source": source})
    return value or 0.0


async def join_all(stub, event_id: str, people: int) -> list[str]:
    gate = asyncio.Semaphore(50)

    async def one(n: int) -> str:
        async with gate:
            joined = await stub.JoinQueue(pb.JoinQueueRequest(user_id=f"fan{n}", event_id=event_id))
            return joined.session_id

    return list(await asyncio.gather(*(one(n) for n in range(people))))


async def from_memory(server, stub, session: str) -> pb.GetQueueStatusResponse:
    """The status, once the server's view of the line answers it."""
    async with asyncio.timeout(10):
        while True:
            before = reads(server, "memory")
            status = await stub.GetQueueStatus(pb.GetQueueStatusRequest(session_id=session))
            if reads(server, "memory") > before:
                return status
            await asyncio.sleep(0.05)


async def test_positions_read_from_memory_match_redis_without_a_redis_call_per_read(
    start_server, channel_to, event_id
):
    writer, reader = [await start_server(waitroom_instance_id=n, **WATCHING) for n in "ab"]
    await create_event(channel_to(writer), event_id)
    sessions = await join_all(pb_grpc.WaitroomServiceStub(channel_to(writer)), event_id, PEOPLE)
    leave = pb_grpc.WaitroomServiceStub(channel_to(writer)).LeaveQueue
    for session in sessions[100::7]:
        await leave(pb.LeaveQueueRequest(session_id=session))
    waiting = [s for s in sessions if s not in set(sessions[100::7])]
    stub = pb_grpc.WaitroomServiceStub(channel_to(reader))
    await from_memory(reader, stub, waiting[-1])
    redis_before, memory_before = reads(reader, "redis"), reads(reader, "memory")
    exact = 0
    for session in waiting:
        told = await stub.GetQueueStatus(pb.GetQueueStatusRequest(session_id=session))
        _, record = await writer.queue.read(session, touch=False)
        truth = (record.rank or 0) + 1
        if truth <= EXACT:
            assert told.position == truth
            exact += 1
        else:
            assert abs(told.position - truth) < PER_BUCKET
        assert told.queue_length == len(waiting)
    assert exact == EXACT
    assert reads(reader, "redis") == redis_before  # not one read went to Redis
    assert reads(reader, "memory") - memory_before == len(waiting)


async def test_a_view_started_after_many_left_knows_every_leave_read_in_pages(
    start_server, channel_to, event_id, monkeypatch
):
    monkeypatch.setattr(line_store, "MAX_LEAVES", 7)  # the feed comes in pages of 7
    writer = await start_server(waitroom_instance_id="writer", **WATCHING)
    await create_event(channel_to(writer), event_id)
    sessions = await join_all(pb_grpc.WaitroomServiceStub(channel_to(writer)), event_id, 120)
    leave = pb_grpc.WaitroomServiceStub(channel_to(writer)).LeaveQueue
    gone = sessions[::3]
    for session in gone:
        await leave(pb.LeaveQueueRequest(session_id=session))
    reader = await start_server(waitroom_instance_id="reader", **WATCHING)  # a view of its own
    stub = pb_grpc.WaitroomServiceStub(channel_to(reader))
    await from_memory(reader, stub, sessions[1])
    view = reader.lines._views[event_id]
    assert set(view.left) == {s.split("~")[1].split(".")[0] for s in gone}
    for session in gone:
        told = await stub.GetQueueStatus(pb.GetQueueStatusRequest(session_id=session))
        assert told.status == pb.SESSION_STATUS_LEFT


async def test_an_admission_a_leave_and_a_pause_reach_another_replicas_answers_within_bound(
    start_server, channel_to, event_id, kafka_tail
):
    reader = await start_server(waitroom_instance_id="reader", **WATCHING)
    stub = pb_grpc.WaitroomServiceStub(channel_to(reader))
    await create_event(channel_to(reader), event_id, max_concurrent=1, batch_size=1)
    first, second, third = [
        (await stub.JoinQueue(pb.JoinQueueRequest(user_id=u, event_id=event_id))).session_id
        for u in ("ann", "bob", "cat")
    ]
    for session in (first, second, third):
        assert (await from_memory(reader, stub, session)).status == pb.SESSION_STATUS_QUEUED
    tail = await kafka_tail(topics.QUEUE_READY)
    polling = asyncio.create_task(
        until(stub, first, lambda s: s.status == pb.SESSION_STATUS_ADMITTED, within=30)
    )
    admitting = await start_server(waitroom_instance_id="admitting", **ADMITTING)
    ready = await tail.collect(lambda r: r.key.decode() == first, 1)
    token = from_json(ready[0].value, events_pb2.QueueReady()).checkout_token
    admitted = await polling
    assert admitted.checkout_token == token  # the one QUEUE_READY carried, read once from Redis
    expires_ms = admitted.checkout_expires_at.ToMilliseconds()
    admitted_at = (expires_ms - 900_000) / 1000  # the event's default hold of 15 minutes
    assert measured("admission, polled from memory", seen[first] - admitted_at) < BOUND
    other = pb_grpc.WaitroomServiceStub(channel_to(admitting))
    await other.LeaveQueue(pb.LeaveQueueRequest(session_id=second))
    left_at = time.monotonic()
    await until(stub, second, lambda s: s.status == pb.SESSION_STATUS_LEFT)
    assert measured("leave, polled from memory", time.monotonic() - left_at) < BOUND
    moved = await until(stub, third, lambda s: s.position == 1)
    assert moved.status == pb.SESSION_STATUS_QUEUED
    admin = pb_grpc.AdminServiceStub(channel_to(admitting))
    pause = pb.UpdateEventRequest(event_id=event_id, action=pb.EVENT_ACTION_PAUSE)
    await admin.UpdateEvent(pause, metadata=ADMIN)
    paused_at = time.monotonic()
    await until(stub, third, lambda s: s.event_state == pb.EVENT_STATE_PAUSED)
    assert measured("pause, polled from memory", time.monotonic() - paused_at) < BOUND


seen: dict[str, float] = {}  # when until() saw its match, by session


async def until(stub, session: str, matches, within: float = 10) -> pb.GetQueueStatusResponse:
    async with asyncio.timeout(within):
        while True:
            status = await stub.GetQueueStatus(pb.GetQueueStatusRequest(session_id=session))
            if matches(status):
                seen[session] = time.time()
                return status
            await asyncio.sleep(0.01)


async def test_a_poller_answered_from_memory_keeps_their_place_and_loses_it_once_they_stop(
    start_server, channel_to, event_id
):
    """Presence written seldom (every TTL / 4 while polling), but written: a poller keeps their
    place past the TTL, and one who stops loses it a TTL after their last poll."""
    ttl = 4.0
    server = await start_server(queue_session_ttl=timedelta(seconds=ttl), **WATCHING)
    await create_event(channel_to(server), event_id)
    stub = pb_grpc.WaitroomServiceStub(channel_to(server))
    polling, stopping = await join_all(stub, event_id, 2)
    await from_memory(server, stub, polling)
    memory_before = reads(server, "memory")
    started = time.monotonic()
    while time.monotonic() - started < 3 * ttl:  # three TTLs of polls answered from memory
        for session in (polling, stopping) if time.monotonic() - started < ttl else (polling,):
            await stub.GetQueueStatus(pb.GetQueueStatusRequest(session_id=session))
        await asyncio.sleep(0.3)
    assert reads(server, "memory") - memory_before > 3 * ttl / 0.3  # every poll from memory
    _, record = await server.queue.read(polling, touch=False)  # Redis knows they are there
    assert record.status.name == "QUEUED"
    with pytest.raises(NotFoundError):  # the other stopped two TTLs ago: their place is gone
        await server.queue.read(stopping, touch=False)
