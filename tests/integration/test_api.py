"""The gRPC API on a real server, Redis and Kafka: joining, status, leaving, bad input, admin."""

import asyncio
import gc
import time
from datetime import timedelta

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from grpc_health.v1 import health_pb2, health_pb2_grpc

from common.kafka import topics
from common.kafka.messages import from_json
from tests.integration.conftest import ADMIN, create_event
from waitroomapi.events.v1 import events_pb2
from waitroomapi.waitroom.v1 import waitroom_pb2 as pb
from waitroomapi.waitroom.v1 import waitroom_pb2_grpc as pb_grpc

CLOSED_PROCESSOR = {"queue_processor_enabled": False}


async def test_a_ready_server_keeps_its_startup_objects_out_of_garbage_collection(start_server):
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    await start_server()
    # modules, descriptors and clients: never traversed again by a full collection
    assert gc.get_freeze_count() > 10_000


async def test_second_join_returns_the_same_session(start_server, channel_to, event_id):
    channel = channel_to(await start_server(**CLOSED_PROCESSOR))
    await create_event(channel, event_id)
    stub = pb_grpc.WaitroomServiceStub(channel)
    first = await stub.JoinQueue(pb.JoinQueueRequest(user_id="user1", event_id=event_id))
    other = await stub.JoinQueue(pb.JoinQueueRequest(user_id="user2", event_id=event_id))
    again = await stub.JoinQueue(pb.JoinQueueRequest(user_id="user1", event_id=event_id))
    assert again.session_id == first.session_id
    assert (first.position, other.position, again.position) == (1, 2, 1)
    assert again.queue_length == 2


async def test_status_reports_place_length_and_a_wait_estimate(start_server, channel_to, event_id):
    server = await start_server(queue_process_interval=timedelta(seconds=1), **CLOSED_PROCESSOR)
    channel = channel_to(server)
    await create_event(channel, event_id, batch_size=5)
    stub = pb_grpc.WaitroomServiceStub(channel)
    joined = [
        await stub.JoinQueue(pb.JoinQueueRequest(user_id=f"u{i}", event_id=event_id))
        for i in range(20)
    ]
    status = await stub.GetQueueStatus(pb.GetQueueStatusRequest(session_id=joined[9].session_id))
    assert status.status == pb.SESSION_STATUS_QUEUED
    assert (status.position, status.queue_length) == (10, 20)
    assert status.estimated_wait_seconds == 2  # nothing measured yet: 5 per 1 s interval
    assert status.checkout_token == ""


async def test_leaving_removes_the_session_from_the_line(start_server, channel_to, event_id):
    channel = channel_to(await start_server(**CLOSED_PROCESSOR))
    await create_event(channel, event_id)
    stub = pb_grpc.WaitroomServiceStub(channel)
    a = await stub.JoinQueue(pb.JoinQueueRequest(user_id="a", event_id=event_id))
    b = await stub.JoinQueue(pb.JoinQueueRequest(user_id="b", event_id=event_id))
    left = await stub.LeaveQueue(pb.LeaveQueueRequest(session_id=a.session_id))
    assert left.status == pb.SESSION_STATUS_LEFT
    again = await stub.LeaveQueue(pb.LeaveQueueRequest(session_id=a.session_id))
    assert again.status == pb.SESSION_STATUS_LEFT
    status_b = await stub.GetQueueStatus(pb.GetQueueStatusRequest(session_id=b.session_id))
    assert (status_b.position, status_b.queue_length) == (1, 1)
    rejoined = await stub.JoinQueue(pb.JoinQueueRequest(user_id="a", event_id=event_id))
    assert rejoined.session_id != a.session_id
    assert rejoined.position == 2


@pytest.mark.parametrize(
    ("user_id", "event_id_override", "code"),
    [
        ("", None, grpc.StatusCode.INVALID_ARGUMENT),
        ("u" * 129, None, grpc.StatusCode.INVALID_ARGUMENT),
        ("bad id", None, grpc.StatusCode.INVALID_ARGUMENT),
        ("user1", "", grpc.StatusCode.INVALID_ARGUMENT),
        ("user1", "{slot}", grpc.StatusCode.INVALID_ARGUMENT),
        ("user1", "no-such-event", grpc.StatusCode.NOT_FOUND),
    ],
)
async def test_bad_joins_get_a_clear_status_and_change_nothing(
    start_server, channel_to, event_id, redis, user_id, event_id_override, code
):
    channel = channel_to(await start_server(**CLOSED_PROCESSOR))
    await create_event(channel, event_id)
    stub = pb_grpc.WaitroomServiceStub(channel)
    target = event_id if event_id_override is None else event_id_override
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await stub.JoinQueue(pb.JoinQueueRequest(user_id=user_id, event_id=target))
    assert error.value.code() == code
    assert error.value.details()
    assert await redis.hget(f"waitroom:{{{event_id}}}:config", "waiting") == "0"


@pytest.mark.parametrize(
    ("session_id", "code"),
    [
        ("", grpc.StatusCode.INVALID_ARGUMENT),
        ("garbage", grpc.StatusCode.INVALID_ARGUMENT),
        ("x" * 5000, grpc.StatusCode.INVALID_ARGUMENT),
        ("no-such-event~AAAAAAAAAAAAAAAAAAAAAA", grpc.StatusCode.NOT_FOUND),
    ],
)
async def test_bad_session_ids_get_a_clear_status(start_server, channel_to, session_id, code):
    stub = pb_grpc.WaitroomServiceStub(channel_to(await start_server(**CLOSED_PROCESSOR)))
    for call in (
        stub.GetQueueStatus(pb.GetQueueStatusRequest(session_id=session_id)),
        stub.LeaveQueue(pb.LeaveQueueRequest(session_id=session_id)),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await call
        assert error.value.code() == code


async def test_a_paused_or_closed_event_takes_no_joins(start_server, channel_to, event_id):
    channel = channel_to(await start_server(**CLOSED_PROCESSOR))
    await create_event(channel, event_id)
    admin = pb_grpc.AdminServiceStub(channel)
    stub = pb_grpc.WaitroomServiceStub(channel)
    paused = await admin.UpdateEvent(
        pb.UpdateEventRequest(event_id=event_id, action=pb.EVENT_ACTION_PAUSE), metadata=ADMIN
    )
    assert paused.state == pb.EVENT_STATE_PAUSED
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await stub.JoinQueue(pb.JoinQueueRequest(user_id="u", event_id=event_id))
    assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    await admin.UpdateEvent(
        pb.UpdateEventRequest(event_id=event_id, action=pb.EVENT_ACTION_CLOSE), metadata=ADMIN
    )
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await admin.UpdateEvent(
            pb.UpdateEventRequest(event_id=event_id, action=pb.EVENT_ACTION_RESUME), metadata=ADMIN
        )
    assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION


@pytest.mark.parametrize(
    "metadata", [(), (("authorization", "Bearer wrong"),), (("authorization", "test-admin-token"),)]
)
async def test_admin_calls_without_the_token_are_unauthenticated(
    start_server, channel_to, event_id, redis, metadata
):
    admin = pb_grpc.AdminServiceStub(channel_to(await start_server(**CLOSED_PROCESSOR)))
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await admin.CreateEvent(pb.CreateEventRequest(event_id=event_id), metadata=metadata)
    assert error.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await admin.ListEvents(pb.ListEventsRequest(), metadata=metadata)
    assert error.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert not await redis.exists(f"waitroom:{{{event_id}}}:config")


async def test_every_event_change_is_published_as_event_updated(
    start_server, channel_to, event_id, kafka_tail
):
    tail = await kafka_tail(topics.EVENT_UPDATED)
    channel = channel_to(await start_server())
    created = await create_event(channel, event_id, max_concurrent=50, batch_size=5, tickets=300)
    assert (created.max_concurrent, created.batch_size, created.checkout_ttl_seconds) == (
        50,
        5,
        900,
    )
    admin = pb_grpc.AdminServiceStub(channel)
    later = Timestamp(seconds=4_000_000_000)
    updated = await admin.UpdateEvent(
        pb.UpdateEventRequest(event_id=event_id, max_concurrent=80, tickets=250), metadata=ADMIN
    )
    assert (updated.max_concurrent, updated.tickets, updated.version) == (80, 250, 2)
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await admin.UpdateEvent(
            pb.UpdateEventRequest(event_id=event_id, opens_at=later), metadata=ADMIN
        )
    assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION  # it has opened already
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await admin.UpdateEvent(
            pb.UpdateEventRequest(event_id=event_id, batch_size=0), metadata=ADMIN
        )
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await create_event(channel, event_id)
    assert error.value.code() == grpc.StatusCode.ALREADY_EXISTS

    records = await tail.collect(lambda r: r.key == event_id.encode(), count=2)
    versions = [from_json(r.value, events_pb2.EventUpdated()) for r in records]
    assert [(v.version, v.max_concurrent, v.tickets, v.state) for v in versions] == [
        (1, 50, 300, "open"),
        (2, 80, 250, "open"),
    ]
    assert len({v.message_id for v in versions}) == 2
    listed = await admin.ListEvents(pb.ListEventsRequest(), metadata=ADMIN)
    assert event_id in [e.event_id for e in listed.events]


async def test_a_batch_above_max_concurrent_is_lowered_to_it(start_server, channel_to, event_id):
    channel = channel_to(await start_server(**CLOSED_PROCESSOR))
    created = await create_event(channel, event_id, max_concurrent=10, batch_size=500)
    assert (created.max_concurrent, created.batch_size) == (10, 10)
    admin = pb_grpc.AdminServiceStub(channel)
    lowered = await admin.UpdateEvent(
        pb.UpdateEventRequest(event_id=event_id, max_concurrent=4), metadata=ADMIN
    )
    assert (lowered.max_concurrent, lowered.batch_size, lowered.version) == (4, 4, 2)
    raised = await admin.UpdateEvent(
        pb.UpdateEventRequest(event_id=event_id, batch_size=50), metadata=ADMIN
    )
    assert (raised.max_concurrent, raised.batch_size) == (4, 4)


async def test_a_refused_change_says_why_and_changes_nothing(start_server, channel_to, event_id):
    channel = channel_to(await start_server(**CLOSED_PROCESSOR))
    await create_event(channel, event_id, tickets=5)
    admin = pb_grpc.AdminServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await admin.UpdateEvent(
            pb.UpdateEventRequest(event_id=event_id, tickets=9, action=pb.EVENT_ACTION_RESUME),
            metadata=ADMIN,
        )
    assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "not paused" in error.value.details()
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await admin.UpdateEvent(pb.UpdateEventRequest(event_id="no-such-event"), metadata=ADMIN)
    assert error.value.code() == grpc.StatusCode.NOT_FOUND
    event = await admin.GetEvent(pb.GetEventRequest(event_id=event_id), metadata=ADMIN)
    assert (event.tickets, event.version) == (5, 1)


async def test_health_is_not_serving_until_kafka_answers_but_liveness_is(start_server, tmp_path):
    from prometheus_client import CollectorRegistry

    from tests.integration.conftest import settings
    from waitroom.server import WaitroomServer

    server = WaitroomServer(
        settings(tmp_path, kafka_bootstrap_servers="127.0.0.1:1", kafka_send_timeout=1.0),
        CollectorRegistry(),
    )
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            ready = await health.Check(health_pb2.HealthCheckRequest(service=""))
            live = await health.Check(health_pb2.HealthCheckRequest(service="liveness"))
        assert ready.status == health_pb2.HealthCheckResponse.NOT_SERVING
        assert live.status == health_pb2.HealthCheckResponse.SERVING
    finally:
        await server.stop()


async def test_opening_an_event_admits_at_once_not_at_the_next_interval(
    start_server, channel_to, event_id
):
    server = await start_server(queue_process_interval=timedelta(hours=1))
    channel = channel_to(server)
    later = Timestamp(seconds=int(time.time()) + 3600)
    await create_event(channel, event_id, max_concurrent=5, batch_size=5, opens_at=later)
    queue = pb_grpc.WaitroomServiceStub(channel)
    joined = await queue.JoinQueue(pb.JoinQueueRequest(user_id="early", event_id=event_id))
    await pb_grpc.AdminServiceStub(channel).UpdateEvent(
        pb.UpdateEventRequest(event_id=event_id, opens_at=Timestamp(seconds=int(time.time()))),
        metadata=ADMIN,
    )
    deadline = time.monotonic() + 20  # far below the hour until the next regular cycle
    status = pb.SESSION_STATUS_QUEUED
    while status != pb.SESSION_STATUS_ADMITTED and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        reply = await queue.GetQueueStatus(pb.GetQueueStatusRequest(session_id=joined.session_id))
        status = reply.status
    assert status == pb.SESSION_STATUS_ADMITTED


async def test_health_check_names_whose_totals_it_gives(start_server, channel_to, event_id):
    server = await start_server(waitroom_instance_id="health-it")
    channel = channel_to(server)
    await create_event(channel, event_id, max_concurrent=3, batch_size=3)
    queue = pb_grpc.WaitroomServiceStub(channel)
    for n in range(3):
        await queue.JoinQueue(pb.JoinQueueRequest(user_id=f"fan{n}", event_id=event_id))
    deadline = time.monotonic() + 20
    health = await queue.HealthCheck(pb.HealthCheckRequest())
    while health.total_admitted < 3 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        health = await queue.HealthCheck(pb.HealthCheckRequest())
    event = await pb_grpc.AdminServiceStub(channel).GetEvent(
        pb.GetEventRequest(event_id=event_id), metadata=ADMIN
    )
    assert health.instance == "health-it"  # the process whose processor admitted these
    assert health.total_admitted >= 3  # (db 15 may hold other tests' events too)
    assert health.HasField("all_admitted")
    assert health.all_admitted >= event.total_admitted == 3  # every event's, every process's
