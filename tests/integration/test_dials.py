"""The operator's two dials on the real Redis and Kafka: max_concurrent and new_per_minute, a
ceiling on admissions in any 60 s window, set at creation, changed mid-sale, published."""

import time

from common.kafka import topics
from common.kafka.messages import from_json
from tests.integration.conftest import ADMIN, create_event
from waitroom.models import EventChange, EventConfig, EventState
from waitroom.repository import WaitroomRepository
from waitroomapi.events.v1 import events_pb2
from waitroomapi.waitroom.v1 import waitroom_pb2 as pb
from waitroomapi.waitroom.v1 import waitroom_pb2_grpc as pb_grpc

TTL = 3600


async def admitted_at(repo: WaitroomRepository, event_id: str, at_ms: int) -> int:
    """People one admission cycle lets in at this time (a step id of its own)."""
    return (await repo.admit(event_id, f"step-{at_ms}", at_ms, TTL)).admitted


async def test_new_per_minute_bounds_every_60_s_window_and_follows_its_changes(redis, event_id):
    repo = WaitroomRepository(redis)
    now = (int(time.time()) // 60 * 60 + 120) * 1000  # a whole second, ahead of the clock
    config = EventConfig(event_id, 1000, 1000, 900, now, 0, EventState.OPEN, new_per_minute=20)
    await repo.create_event(config, now)
    for i in range(200):
        await repo.join(event_id, f"u{i}", f"{i:0>22}", now, TTL, 0.5)
    assert await admitted_at(repo, event_id, now) == 20  # the burst: one minute's worth
    assert await admitted_at(repo, event_id, now + 30_000) == 0
    await repo.update_event(event_id, EventChange(new_per_minute=35), now + 31_000)
    assert await admitted_at(repo, event_id, now + 31_000) == 15  # 35 in the window now
    await repo.update_event(event_id, EventChange(new_per_minute=10), now + 32_000)
    assert await admitted_at(repo, event_id, now + 40_000) == 0  # lowered below the window's 35
    # at +61 s the first 20 have left the window, 15 remain: still above 10
    assert await admitted_at(repo, event_id, now + 61_000) == 0
    assert await admitted_at(repo, event_id, now + 92_000) == 10  # the window holds none
    view = await repo.get_event(event_id, now + 92_000)
    assert view is not None
    assert (view.config.new_per_minute, view.admitted_last_minute) == (10, 10)
    await repo.update_event(event_id, EventChange(new_per_minute=0), now + 93_000)
    assert await admitted_at(repo, event_id, now + 93_000) == 200 - 45  # no ceiling


async def test_the_dial_is_set_shown_changed_and_published_through_the_admin_api(
    start_server, channel_to, event_id, kafka_tail
):
    tail = await kafka_tail(topics.EVENT_UPDATED)
    channel = channel_to(await start_server())
    created = await create_event(channel, event_id, max_concurrent=50, new_per_minute=6)
    assert (created.max_concurrent, created.new_per_minute) == (50, 6)
    stub = pb_grpc.WaitroomServiceStub(channel)
    for i in range(10):
        await stub.JoinQueue(pb.JoinQueueRequest(user_id=f"fan{i}", event_id=event_id))
    admin = pb_grpc.AdminServiceStub(channel)
    get = pb.GetEventRequest(event_id=event_id)
    deadline = time.monotonic() + 10
    while (event := await admin.GetEvent(get, metadata=ADMIN)).total_admitted < 6:
        assert time.monotonic() < deadline, event
    assert (event.total_admitted, event.admitted_last_minute, event.queue_length) == (6, 6, 4)
    change = pb.UpdateEventRequest(event_id=event_id, new_per_minute=8)
    assert (await admin.UpdateEvent(change, metadata=ADMIN)).new_per_minute == 8
    while (event := await admin.GetEvent(get, metadata=ADMIN)).total_admitted < 8:
        assert time.monotonic() < deadline, event
    assert event.queue_length == 2
    published = await tail.collect(lambda r: r.key.decode() == event_id, 2)
    dials = [from_json(r.value, events_pb2.EventUpdated()).new_per_minute for r in published]
    assert dials == [6, 8]
