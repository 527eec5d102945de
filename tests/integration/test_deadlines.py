"""Deadlines kept by the one call adapter, on the real waitroom server and a real Redis."""

from datetime import timedelta

import grpc
import pytest

from common.process.deadlines import RETRY_AFTER_KEY, RETRY_AFTER_MS
from tests.integration.conftest import ADMIN, create_event
from waitroomapi.waitroom.v1 import waitroom_pb2 as pb
from waitroomapi.waitroom.v1 import waitroom_pb2_grpc as pb_grpc


def shed(server, reason: str) -> float:
    labels = {"method": "JoinQueue", "reason": reason}
    return server.registry.get_sample_value("waitroom_grpc_shed_total", labels) or 0


def requests(server, code: str, method: str = "JoinQueue") -> float:
    labels = {"method": method, "code": code}
    return server.registry.get_sample_value("waitroom_grpc_requests_total", labels) or 0


async def people(channel, event_id: str) -> int:
    """Everyone the event holds: in line, or admitted already by the processor."""
    admin = pb_grpc.AdminServiceStub(channel)
    event = await admin.GetEvent(pb.GetEventRequest(event_id=event_id), metadata=ADMIN)
    return event.queue_length + event.processing_count


def retry_hint(error: grpc.aio.AioRpcError) -> str | None:
    return dict(error.trailing_metadata() or ()).get(RETRY_AFTER_KEY)


async def test_a_call_with_too_little_time_left_is_refused_before_any_work(
    start_server, channel_to, event_id
):
    server = await start_server(grpc_min_deadline=timedelta(seconds=1))
    channel = channel_to(server)
    await create_event(channel, event_id)
    queue = pb_grpc.WaitroomServiceStub(channel)
    join = pb.JoinQueueRequest(user_id="hurried", event_id=event_id)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await queue.JoinQueue(join, timeout=0.5)  # less than the server's minimum
    assert refused.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert "too little to answer in" in refused.value.details()  # the server's, not the client's
    assert shed(server, "deadline_too_short") == 1
    assert requests(server, "DEADLINE_EXCEEDED") == 1
    assert await people(channel, event_id) == 0  # nothing was stored
    joined = await queue.JoinQueue(pb.JoinQueueRequest(user_id="patient", event_id=event_id))
    assert joined.session_id  # a call without a deadline, as before
    assert await people(channel, event_id) == 1


async def test_work_not_done_by_the_deadline_is_unavailable_with_a_hint_and_a_retry_joins_once(
    start_server, channel_to, throwaway_redis
):
    server = await start_server(redis_url=throwaway_redis.url)
    channel = channel_to(server)
    event_id = "deadline-event"
    await create_event(channel, event_id)
    queue = pb_grpc.WaitroomServiceStub(channel)
    join = pb.JoinQueueRequest(user_id="fan", event_id=event_id)
    throwaway_redis.pause()  # Redis answers nothing, as in a failover
    try:
        with pytest.raises(grpc.aio.AioRpcError) as late:
            await queue.JoinQueue(join, timeout=1.0)
    finally:
        throwaway_redis.resume()
    assert late.value.code() == grpc.StatusCode.UNAVAILABLE  # before the caller's own deadline
    assert retry_hint(late.value) == str(RETRY_AFTER_MS)
    assert shed(server, "deadline_spent") == 1
    first = await queue.JoinQueue(join, timeout=5)  # the caller retries, as told
    again = await queue.JoinQueue(join, timeout=5)
    assert first.session_id == again.session_id
    assert await people(channel, event_id) == 1  # one place, however often it was asked


async def test_a_redis_outage_that_reaches_the_adapter_is_unavailable_with_the_hint(
    start_server, channel_to, throwaway_redis
):
    server = await start_server(redis_url=throwaway_redis.url)
    channel = channel_to(server)
    await create_event(channel, "outage-event")
    await throwaway_redis.kill()
    admin = pb_grpc.AdminServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as away:  # plain commands: a few quick retries
        await admin.GetEvent(pb.GetEventRequest(event_id="outage-event"), metadata=ADMIN)
    assert away.value.code() == grpc.StatusCode.UNAVAILABLE
    assert retry_hint(away.value) == str(RETRY_AFTER_MS)
    assert requests(server, "UNAVAILABLE", method="GetEvent") == 1
