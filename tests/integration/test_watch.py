"""WatchQueueStatus on real servers, Redis and Kafka: the status at once, the final one with
its token, every change on every replica within one processing interval, presence, limits,
and a shutdown that sends watchers elsewhere."""

import asyncio
import time
from datetime import timedelta

import grpc
import pytest

from common.kafka import topics
from common.kafka.messages import from_json, to_json
from common.kafka.publisher import Record
from tests.integration.conftest import ADMIN, create_event
from tests.integration.test_outages import publish
from tests.integration.watching import Watching, state_is, status_is
from waitroomapi.events.v1 import events_pb2
from waitroomapi.waitroom.v1 import waitroom_pb2 as pb
from waitroomapi.waitroom.v1 import waitroom_pb2_grpc as pb_grpc

INTERVAL = 0.25  # QUEUE_PROCESS_INTERVAL of these tests
BOUND = 8 * INTERVAL  # "within one interval", asserted with room for a busy machine
WATCHING = {"queue_process_interval": timedelta(seconds=INTERVAL), "queue_processor_enabled": False}
ADMITTING = {"queue_process_interval": timedelta(seconds=INTERVAL)}


def measured(what: str, seconds: float) -> float:
    """What a test measured, printed (pytest -s) for the record; asserted only as a bound."""
    print(f"staleness {what}: {seconds * 1000:.0f} ms")
    return seconds


async def two_replicas(start_server):
    """Named apart: in one test process they share a pid, and a replica ignores its own hints."""
    return [await start_server(waitroom_instance_id=name, **WATCHING) for name in ("a", "b")]


async def join(channel, event_id: str, user: str) -> str:
    stub = pb_grpc.WaitroomServiceStub(channel)
    joined = await stub.JoinQueue(pb.JoinQueueRequest(user_id=user, event_id=event_id))
    return joined.session_id


async def test_a_stream_sends_the_status_at_once_with_the_events_state_and_its_cadence(
    start_server, channel_to, event_id
):
    channel = channel_to(await start_server(**WATCHING))
    await create_event(channel, event_id)
    sessions = [await join(channel, event_id, f"fan{n}") for n in range(3)]
    watching = Watching(channel, sessions[2])
    _, first = await watching.first(lambda m: True)
    assert first.status.status == pb.SESSION_STATUS_QUEUED
    assert (first.status.position, first.status.queue_length) == (3, 3)
    assert first.status.event_state == pb.EVENT_STATE_OPEN
    assert first.next_update_within_seconds >= 1
    assert not first.final
    polled = await pb_grpc.WaitroomServiceStub(channel).GetQueueStatus(
        pb.GetQueueStatusRequest(session_id=sessions[2])
    )
    assert polled.event_state == pb.EVENT_STATE_OPEN
    assert polled.next_poll_after_seconds >= 1
    watching.cancel()


async def test_an_admission_reaches_the_streams_on_every_replica_with_its_token_and_ends_them(
    start_server, channel_to, event_id, kafka_tail
):
    replicas = await two_replicas(start_server)
    channels = [channel_to(r) for r in replicas]
    await create_event(
        channels[0], event_id, max_concurrent=2, batch_size=2, checkout_ttl_seconds=60
    )
    sessions = [await join(channels[0], event_id, f"fan{n}") for n in range(3)]
    # the second replica hears no hints: the pulse alone must bring the admission
    await replicas[1].broadcast.stop()
    async with asyncio.timeout(10):
        while replicas[1].broadcast.listening.is_set():  # noqa: ASYNC110 (no event for its end)
            await asyncio.sleep(0.05)
    watchers = [Watching(channels[0], sessions[0]), Watching(channels[1], sessions[1])]
    third = Watching(channels[1], sessions[2])
    for w in (*watchers, third):
        await w.first(status_is(pb.SESSION_STATUS_QUEUED))
    tail = await kafka_tail(topics.QUEUE_READY)
    await start_server(**ADMITTING)  # the processor that admits the first two
    ready = await tail.collect(lambda r: r.key.decode() in sessions, 2)
    tokens = {
        r.key.decode(): from_json(r.value, events_pb2.QueueReady()).checkout_token for r in ready
    }
    for session, w in zip(sessions, watchers, strict=False):
        arrived, admitted = await w.first(status_is(pb.SESSION_STATUS_ADMITTED))
        assert admitted.final
        assert admitted.status.checkout_token == tokens[session]
        expires = admitted.status.checkout_expires_at.ToMilliseconds()
        admitted_at = (expires - 60_000) / 1000
        hints = "hints" if w is watchers[0] else "no hints, the pulse alone"
        assert measured(f"admission ({hints})", arrived - admitted_at) < BOUND
        await w.end()
        assert w.error is None  # ended OK after its final status
    _, moved = await third.first(lambda m: m.status.position == 1)
    assert moved.status.status == pb.SESSION_STATUS_QUEUED
    third.cancel()


async def test_leaving_on_one_replica_reaches_the_stream_on_another_and_moves_those_behind(
    start_server, channel_to, event_id
):
    replicas = await two_replicas(start_server)
    channels = [channel_to(r) for r in replicas]
    await create_event(channels[0], event_id)
    sessions = [await join(channels[0], event_id, f"fan{n}") for n in range(3)]
    leaving, behind = Watching(channels[1], sessions[1]), Watching(channels[1], sessions[2])
    await behind.first(lambda m: m.status.position == 3)
    await leaving.first(status_is(pb.SESSION_STATUS_QUEUED))
    stub = pb_grpc.WaitroomServiceStub(channels[0])
    await stub.LeaveQueue(pb.LeaveQueueRequest(session_id=sessions[1]))
    left_at = time.time()
    arrived, left = await leaving.first(status_is(pb.SESSION_STATUS_LEFT))
    assert left.final
    measured("leave", arrived - left_at)
    arrived, _moved = await behind.first(lambda m: m.status.position == 2)
    assert measured("place after a leave", arrived - left_at) < BOUND
    await leaving.end()
    behind.cancel()


async def change(channel, event_id: str, action) -> float:
    admin = pb_grpc.AdminServiceStub(channel)
    await admin.UpdateEvent(pb.UpdateEventRequest(event_id=event_id, action=action), metadata=ADMIN)
    return time.time()


async def test_a_pause_a_resume_and_a_close_reach_the_streams_on_every_replica(
    start_server, channel_to, event_id
):
    replicas = await two_replicas(start_server)
    channels = [channel_to(r) for r in replicas]
    await create_event(channels[0], event_id)
    sessions = [await join(channels[0], event_id, f"fan{n}") for n in range(2)]
    watchers = [Watching(c, s) for c, s in zip(channels, sessions, strict=True)]
    for w in watchers:
        await w.first(state_is(pb.EVENT_STATE_OPEN))
    for action, state in (
        (pb.EVENT_ACTION_PAUSE, pb.EVENT_STATE_PAUSED),
        (pb.EVENT_ACTION_RESUME, pb.EVENT_STATE_OPEN),
        (pb.EVENT_ACTION_CLOSE, pb.EVENT_STATE_CLOSED),
    ):
        seen = [len(w.messages) for w in watchers]
        changed_at = await change(channels[0], event_id, action)
        for w, since in zip(watchers, seen, strict=True):
            arrived, _ = await w.first(state_is(state), since=since)
            assert measured(pb.EventState.Name(state), arrived - changed_at) < BOUND
    for w in watchers:
        _, last = w.messages[-1]
        await w.end()
        assert last.final
        assert last.status.status == pb.SESSION_STATUS_QUEUED
        assert w.error is None


async def test_a_sold_out_reaches_the_streams_on_every_replica_and_ends_them(
    start_server, channel_to, event_id
):
    replicas = await two_replicas(start_server)
    channels = [channel_to(r) for r in replicas]
    await create_event(channels[0], event_id)
    sessions = [await join(channels[0], event_id, f"fan{n}") for n in range(2)]
    watchers = [Watching(c, s) for c, s in zip(channels, sessions, strict=True)]
    for w in watchers:
        await w.first(status_is(pb.SESSION_STATUS_QUEUED))
    message = events_pb2.EventSoldOut(message_id=f"{event_id}-sold", event_id=event_id)
    await publish([Record(topics.EVENT_SOLD_OUT, event_id, to_json(message))])
    for w in watchers:
        _, sold_out = await w.first(status_is(pb.SESSION_STATUS_SOLD_OUT))
        assert sold_out.final
        await w.end()


async def test_a_session_opens_a_bounded_number_of_streams_and_bad_ones_get_clear_codes(
    start_server, channel_to, event_id
):
    server = await start_server(**WATCHING)
    channel = channel_to(server)
    await create_event(channel, event_id)
    session = await join(channel, event_id, "fan")
    open_ones = [Watching(channel, session) for _ in range(3)]
    for w in open_ones:
        await w.first(status_is(pb.SESSION_STATUS_QUEUED))
    for session_id, code in (
        (session, grpc.StatusCode.RESOURCE_EXHAUSTED),
        (f"{event_id}~AAAAAAAAAAAAAAAAAAAAAA", grpc.StatusCode.NOT_FOUND),
        ("", grpc.StatusCode.INVALID_ARGUMENT),
    ):
        refused = Watching(channel, session_id)
        await refused.end()
        assert refused.error is not None
        assert refused.error.code() == code
    open_ones[0].cancel()
    await open_ones[0].end()
    again = Watching(channel, session)  # a place freed: the reconnect gets the status at once
    await again.first(status_is(pb.SESSION_STATUS_QUEUED))
    streams = server.registry.get_sample_value("waitroom_watch_streams")
    assert streams == 3
    for w in (*open_ones[1:], again):
        w.cancel()


async def test_a_server_that_stops_sends_its_watchers_elsewhere_where_they_get_the_status_at_once(
    start_server, channel_to, event_id
):
    stopping, other = await start_server(**WATCHING), await start_server(**WATCHING)
    channel = channel_to(stopping)
    await create_event(channel, event_id)
    session = await join(channel, event_id, "fan")
    watching = Watching(channel, session)
    await watching.first(status_is(pb.SESSION_STATUS_QUEUED))
    await stopping.stop()
    await watching.end(within=5)
    assert watching.error is not None
    assert watching.error.code() == grpc.StatusCode.UNAVAILABLE
    trailing = dict(watching.error.trailing_metadata() or ())
    assert int(trailing["retry-after-ms"]) > 0
    elsewhere = Watching(channel_to(other), session)
    _, status = await elsewhere.first(lambda m: True)
    assert (status.status.status, status.status.position) == (pb.SESSION_STATUS_QUEUED, 1)
    elsewhere.cancel()


async def test_an_open_stream_keeps_its_place_and_a_closed_one_starts_the_abandonment_clock(
    start_server, channel_to, event_id
):
    ttl = timedelta(seconds=2)
    channel = channel_to(await start_server(queue_session_ttl=ttl, **WATCHING))
    await create_event(channel, event_id)
    kept, dropped = await join(channel, event_id, "kept"), await join(channel, event_id, "gone")
    watchers = [Watching(channel, kept), Watching(channel, dropped)]
    for w in watchers:
        await w.first(status_is(pb.SESSION_STATUS_QUEUED))
    await asyncio.sleep(2 * ttl.total_seconds() + 1)  # well past the TTL, streams open
    watchers[1].cancel()
    await watchers[1].end()
    stub = pb_grpc.WaitroomServiceStub(channel)
    status = await stub.GetQueueStatus(pb.GetQueueStatusRequest(session_id=dropped))
    assert status.status == pb.SESSION_STATUS_QUEUED  # its place was kept while it watched
    await asyncio.sleep(ttl.total_seconds() + 1.5)  # the clock ran from the stream's end
    # a poll answered from memory may read QUEUED until the next presence write (every
    # ttl / 4 here) finds the place given up; it never revives it
    code = None
    for _ in range(20):
        try:
            await stub.GetQueueStatus(pb.GetQueueStatusRequest(session_id=dropped))
        except grpc.aio.AioRpcError as error:
            code = error.code()
            break
        await asyncio.sleep(0.1)
    assert code == grpc.StatusCode.NOT_FOUND
    status = await stub.GetQueueStatus(pb.GetQueueStatusRequest(session_id=kept))
    assert status.status == pb.SESSION_STATUS_QUEUED  # still watching: still in line
    watchers[0].cancel()


async def read_into(call, received: list) -> None:
    async for message in call:
        received.append(message)


def shed(server, reason: str) -> float:
    labels = {"method": "WatchQueueStatus", "reason": reason}
    return server.registry.get_sample_value("waitroom_grpc_shed_total", labels) or 0


async def test_a_stream_with_too_little_time_is_refused_and_one_with_time_is_never_cut_short(
    start_server, channel_to, event_id
):
    server = await start_server(**WATCHING)
    channel = channel_to(server)
    await create_event(channel, event_id)
    request = pb.WatchQueueStatusRequest(session_id=await join(channel, event_id, "fan"))
    stub = pb_grpc.WaitroomServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        async for _ in stub.WatchQueueStatus(request, timeout=0.04):  # below min + margin
            pass
    assert refused.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert shed(server, "deadline_too_short") == 1
    received: list[pb.WatchQueueStatusResponse] = []
    with pytest.raises(grpc.aio.AioRpcError) as ended:
        await read_into(stub.WatchQueueStatus(request, timeout=1.0), received)
    assert received  # answered at once
    # the caller's own deadline ended it: the server never bounds a stream's work
    assert ended.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert shed(server, "deadline_spent") == 0


async def test_watchers_of_a_stopped_server_reconnect_to_another_and_lose_nothing(
    start_server, channel_to, event_id
):
    people = 200
    stopping, other = await two_replicas(start_server)
    channel = channel_to(stopping)
    await create_event(channel, event_id, max_concurrent=50, batch_size=50)
    sessions = [await join(channel, event_id, f"fan{n}") for n in range(people)]
    watchers = [Watching(channel, s) for s in sessions]
    for w in watchers:
        await w.first(status_is(pb.SESSION_STATUS_QUEUED))
    await stopping.stop()
    for w in watchers:
        await w.end(within=10)
    codes = {w.error.code() if w.error else None for w in watchers}
    assert codes == {grpc.StatusCode.UNAVAILABLE}  # every one told to reconnect
    elsewhere = channel_to(other)
    again = [Watching(elsewhere, s) for s in sessions]
    places = [(await w.first(lambda m: True))[1].status.position for w in again]
    assert places == list(range(1, people + 1))  # every place kept, in order
    await start_server(waitroom_instance_id="admitting", **ADMITTING)
    admitted = [await w.first(status_is(pb.SESSION_STATUS_ADMITTED)) for w in again[:50]]
    assert all(message.status.checkout_token for _, message in admitted)
    _, next_in_line = await again[50].first(lambda m: m.status.position == 1)
    assert next_in_line.status.status == pb.SESSION_STATUS_QUEUED
    for w in again[50:]:
        w.cancel()


async def test_a_reconnect_storm_of_thousands_of_streams_at_once_is_taken_in_full(
    start_server, channel_to, event_id
):
    people = 2500  # past gRPC core's default of 1,000 calls waiting to be taken up
    server = await start_server(**WATCHING)
    channel = channel_to(server)
    await create_event(channel, event_id)
    stub = pb_grpc.WaitroomServiceStub(channel)
    joined = await asyncio.gather(
        *(
            stub.JoinQueue(pb.JoinQueueRequest(user_id=f"fan{n}", event_id=event_id))
            for n in range(people)
        )
    )
    calls = [
        stub.WatchQueueStatus(pb.WatchQueueStatusRequest(session_id=j.session_id)) for j in joined
    ]
    firsts = await asyncio.gather(*(call.read() for call in calls), return_exceptions=True)
    refused = [f for f in firsts if isinstance(f, BaseException)]
    assert refused == []
    assert sorted(f.status.position for f in firsts) == list(range(1, people + 1))
    for call in calls:
        call.cancel()
