"""The queue processor on the real Redis and Kafka: order, limits, deadlines, replicas."""

import asyncio
import time
from datetime import timedelta

import aiohttp
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from common.kafka import topics
from common.kafka.messages import from_json
from common.kafka.outbox import OutboxRelay, OutboxStream
from common.tokens.ids import make_session_id
from common.tokens.signing import TokenVerifier
from tests.integration.conftest import ADMIN, create_event
from waitroom.models import EventConfig, EventState, Status
from waitroom.relay import WaitroomOutbox
from waitroom.repository import WaitroomRepository
from waitroomapi.events.v1 import events_pb2
from waitroomapi.waitroom.v1 import waitroom_pb2 as pb
from waitroomapi.waitroom.v1 import waitroom_pb2_grpc as pb_grpc


def ready_of(event_id):
    def matches(record):
        return from_json(record.value, events_pb2.QueueReady()).event_id == event_id

    return matches


async def test_admission_follows_join_order_and_every_token_verifies(
    start_server, channel_to, event_id, kafka_tail
):
    tail = await kafka_tail(topics.QUEUE_READY)
    server = await start_server()
    channel = channel_to(server)
    await create_event(channel, event_id, max_concurrent=100, batch_size=7, checkout_ttl_seconds=60)
    stub = pb_grpc.WaitroomServiceStub(channel)
    joined = [
        await stub.JoinQueue(pb.JoinQueueRequest(user_id=f"user{i}", event_id=event_id))
        for i in range(30)
    ]

    records = await tail.collect(ready_of(event_id), count=30)
    ready = [from_json(r.value, events_pb2.QueueReady()) for r in records]
    unique = {m.session_id: m for m in ready}
    assert set(unique) == {j.session_id for j in joined}
    by_admission = sorted(
        unique.values(), key=lambda m: (m.admitted_at.ToMilliseconds(), m.join_sequence)
    )
    assert [m.session_id for m in by_admission] == [j.session_id for j in joined]

    async with aiohttp.ClientSession() as http:
        url = f"http://127.0.0.1:{server.http.port}/.well-known/jwks.json"
        async with http.get(url) as response:
            jwks = await response.json()
    verifier = TokenVerifier(jwks)
    for message in unique.values():
        claims = verifier.verify(message.checkout_token)
        assert (claims.session_id, claims.event_id) == (message.session_id, event_id)
        assert claims.user_id == message.user_id
        # exp is the hold's deadline rounded up to the second: never before the hold runs out
        assert claims.expires_at == -(-message.expires_at.ToMilliseconds() // 1000)
    status = await stub.GetQueueStatus(pb.GetQueueStatusRequest(session_id=joined[0].session_id))
    assert status.status == pb.SESSION_STATUS_ADMITTED
    assert status.checkout_token == unique[joined[0].session_id].checkout_token


async def test_two_processors_never_exceed_the_limit_nor_admit_anyone_twice(
    start_server, channel_to, event_id, redis, kafka_tail
):
    tail = await kafka_tail(topics.QUEUE_READY)
    first = await start_server(queue_processor_enabled=False)
    channel = channel_to(first)
    await create_event(channel, event_id, max_concurrent=4, batch_size=4, checkout_ttl_seconds=1)
    stub = pb_grpc.WaitroomServiceStub(channel)
    joined = [
        await stub.JoinQueue(pb.JoinQueueRequest(user_id=f"u{i}", event_id=event_id))
        for i in range(24)
    ]
    replicas = [await start_server(waitroom_instance_id=f"replica-{n}") for n in range(2)]

    most_in_checkout = 0
    deadline = time.monotonic() + 60
    config, processing = f"waitroom:{{{event_id}}}:config", f"waitroom:{{{event_id}}}:processing"
    while time.monotonic() < deadline:
        in_checkout = await redis.zcard(processing)
        most_in_checkout = max(most_in_checkout, in_checkout)
        if await redis.hget(config, "waiting") == "0" and in_checkout == 0:
            break
        await asyncio.sleep(0.005)
    assert 0 < most_in_checkout <= 4

    records = await tail.collect(ready_of(event_id), count=24)
    ready = [from_json(r.value, events_pb2.QueueReady()) for r in records]
    admissions = {(m.session_id, m.admitted_at.ToMilliseconds()) for m in ready}
    assert len(admissions) == 24  # each person admitted exactly once (a re-relay repeats the time)
    assert {s for s, _ in admissions} == {j.session_id for j in joined}
    assert sum(r.processor.status.total_admitted for r in replicas) == 24


async def test_a_hold_is_freed_by_its_own_deadline(redis, event_id):
    repo = WaitroomRepository(redis)
    now = int(time.time() * 1000)
    await repo.create_event(EventConfig(event_id, 2, 2, 10, now, 0, EventState.OPEN), now)
    a = await repo.join(event_id, "a", "A" * 22, now, 3600, 0.5)
    await repo.admit(event_id, "c1", now, 3600)
    b = await repo.join(event_id, "b", "B" * 22, now + 5_000, 3600, 0.5)
    await repo.admit(event_id, "c2", now + 5_000, 3600)
    result = await repo.admit(event_id, "c3", now + 10_001, 3600)
    assert (result.reaped, result.processing) == (1, 1)
    first = await repo.session(event_id, a.token, now + 10_001, 3600)
    second = await repo.session(event_id, b.token, now + 10_001, 3600)
    assert (first.status, second.status) == (Status.EXPIRED, Status.ADMITTED)


async def test_a_retried_cycle_admits_nobody_more(redis, event_id):
    repo = WaitroomRepository(redis)
    now = int(time.time() * 1000)
    await repo.create_event(EventConfig(event_id, 100, 2, 60, now, 0, EventState.OPEN), now)
    for i in range(6):
        await repo.join(event_id, f"u{i}", f"{i:0>22}", now, 3600, 0.5)
    first = await repo.admit(event_id, "same-cycle", now, 3600)
    again = await repo.admit(event_id, "same-cycle", now, 3600)
    assert (first.admitted, again.admitted, again.duplicate_cycle) == (2, 0, True)
    assert again.queue_length == 4


async def test_people_who_join_before_opening_are_shuffled_and_go_first(redis, event_id):
    repo = WaitroomRepository(redis)
    now = int(time.time() * 1000)
    opens = now + 60_000
    await repo.create_event(EventConfig(event_id, 1000, 1000, 60, opens, 0, EventState.OPEN), now)
    early = [
        (
            await repo.join(
                event_id,
                f"e{i}",
                f"e{i:0>21}",
                now,
                3600,
                __import__("secrets").randbits(52) / 2**52,
            )
        ).token
        for i in range(40)
    ]
    nothing = await repo.admit(event_id, "before", now + 1, 3600)
    assert nothing.admitted == 0
    late = [
        (await repo.join(event_id, f"l{i}", f"l{i:0>21}", opens + 1, 3600, 0.5)).token
        for i in range(5)
    ]
    await repo.admit(event_id, "at-opening", opens + 2, 3600)
    outbox = OutboxStream(redis)
    entries = await outbox.read(f"waitroom:{{{event_id}}}:outbox", "test", 1000, 60_000)
    admitted = [e.fields["session"] for e in entries if e.kind == "ready"]
    assert sorted(admitted[:40]) == sorted(early)
    assert admitted[:40] != early  # 1 in 40! that a fair shuffle keeps the join order
    assert admitted[40:] == late


async def test_queue_ready_gets_out_after_kafka_was_unreachable(
    redis, event_id, tmp_path, kafka_tail
):
    from common.kafka.publisher import Publisher, PublishError
    from tests.integration.conftest import settings
    from waitroom.build import build_signer

    tail = await kafka_tail(topics.QUEUE_READY)
    repo = WaitroomRepository(redis)
    now = int(time.time() * 1000)
    await repo.create_event(EventConfig(event_id, 10, 10, 60, now, 0, EventState.OPEN), now)
    for i in range(5):
        await repo.join(event_id, f"u{i}", f"{i:0>22}", now, 3600, 0.5)
    await repo.admit(event_id, "c1", now, 3600)
    outbox, stream = OutboxStream(redis), f"waitroom:{{{event_id}}}:outbox"
    convert = WaitroomOutbox(build_signer(settings(tmp_path))).convert

    def relay(publisher, consumer, claim_idle_ms):
        return OutboxRelay(
            outbox,
            publisher,
            lambda e: f"waitroom:{{{e}}}:outbox",
            convert,
            consumer,
            100,
            claim_idle_ms,
        )

    dead = Publisher("127.0.0.1:1", timeout=1.0, client_id="dead")
    with pytest.raises(PublishError):
        await relay(dead, "crashed", 60_000).relay(event_id)
    assert await outbox.length(stream) == 11  # created, 5 joined, 5 ready: nothing lost
    # only this event is worth a relay; its unacknowledged entries make it so
    quiet = f"{event_id}-quiet"
    assert await relay(dead, "any", 0).pending([quiet, event_id]) == [event_id]

    alive = Publisher("127.0.0.1:9092", timeout=10.0, client_id="alive")
    try:
        relayed = await relay(alive, "successor", 0).relay(event_id)
    finally:
        await alive.stop()
    assert relayed == 11
    assert await outbox.length(stream) == 0
    assert await relay(dead, "any", 0).pending([quiet, event_id]) == []
    ready = await tail.collect(ready_of(event_id), count=5)
    sessions = {from_json(r.value, events_pb2.QueueReady()).session_id for r in ready}
    assert sessions == {make_session_id(event_id, f"{i:0>22}") for i in range(5)}


async def test_a_user_keeps_their_admitted_session_until_it_ends(redis, event_id):
    repo = WaitroomRepository(redis)
    now = int(time.time() * 1000)
    await repo.create_event(EventConfig(event_id, 10, 10, 600, now, 0, EventState.OPEN), now)
    await repo.join(event_id, "alice", "A" * 22, now, 60, 0.5)
    await repo.admit(event_id, "c1", now, 60)
    # long after the waiting TTL, but within the hold: still the same session
    again = await repo.join(event_id, "alice", "B" * 22, now + 300_000, 60, 0.5)
    assert (again.token, again.status) == ("A" * 22, Status.ADMITTED)
    await repo.finish(event_id, "A" * 22, Status.COMPLETED, "m1", now + 301_000)
    after = await repo.join(event_id, "alice", "C" * 22, now + 302_000, 60, 0.5)
    assert (after.token, after.status) == ("C" * 22, Status.QUEUED)


async def test_a_replica_that_does_not_admit_passes_on_an_opening_and_helps_relay(
    start_server, channel_to, event_id, kafka_tail, redis
):
    """The opening reaches the admitting replica at once (its interval is an hour), and the
    other replica's relay shares the signing of a large admission."""
    people, hour = 2_500, timedelta(hours=1)
    tail = await kafka_tail(topics.QUEUE_READY)
    admitting = await start_server(
        queue_process_interval=hour, waitroom_instance_id="it-admits", queue_outbox_batch=100
    )
    helper = await start_server(
        queue_process_interval=hour,
        waitroom_instance_id="it-helps",
        queue_outbox_batch=100,
        queue_processor_enabled=False,
    )
    for server in (admitting, helper):
        await asyncio.wait_for(server.broadcast.listening.wait(), 10)
    channel = channel_to(helper)
    later = Timestamp(seconds=int(time.time()) + 3600)
    await create_event(channel, event_id, max_concurrent=people, batch_size=people, opens_at=later)
    stub = pb_grpc.WaitroomServiceStub(channel)
    for start in range(0, people, 250):
        await asyncio.gather(
            *(
                stub.JoinQueue(pb.JoinQueueRequest(user_id=f"u{n}", event_id=event_id))
                for n in range(start, start + 250)
            )
        )

    await pb_grpc.AdminServiceStub(channel).UpdateEvent(
        pb.UpdateEventRequest(event_id=event_id, opens_at=Timestamp(seconds=int(time.time()))),
        metadata=ADMIN,
    )
    records = await tail.collect(ready_of(event_id), count=people, within=90)
    sessions = {from_json(r.value, events_pb2.QueueReady()).session_id for r in records}
    assert len(sessions) == people

    def relayed(server):
        labels = {"event_id": event_id, "topic": topics.QUEUE_READY}
        return server.registry.get_sample_value("waitroom_outbox_relayed_total", labels) or 0

    for _ in range(600):  # a relay counts its batch once Kafka acknowledged it: up to 30 s
        if relayed(admitting) + relayed(helper) >= people:
            break
        await asyncio.sleep(0.05)
    assert relayed(admitting) + relayed(helper) >= people
    assert relayed(admitting) > 0
    assert relayed(helper) > 0  # it heard the hint: nothing else wakes its relay for an hour
    assert await redis.xlen(f"waitroom:{{{event_id}}}:outbox") == 0


async def test_a_step_from_a_processor_whose_clock_is_behind_is_dated_after_the_last(
    redis, event_id
):
    """Two processors, one clock 5 s behind the other: admission times never run backwards,
    so QUEUE_READY's order stays the line's and no hold is born nearer its end."""
    repo = WaitroomRepository(redis)
    now = int(time.time() * 1000)
    await repo.create_event(EventConfig(event_id, 100, 2, 60, now, 0, EventState.OPEN), now)
    tokens = [f"{i:0>22}" for i in range(4)]
    for i, token in enumerate(tokens):
        await repo.join(event_id, f"u{i}", token, now, 3600, 0.5)
    await repo.admit(event_id, "ahead", now, 3600)
    await repo.admit(event_id, "behind", now - 5_000, 3600)
    first, *_, last = [await repo.session(event_id, t, now, 3600) for t in tokens]
    assert first.status == last.status == Status.ADMITTED
    assert last.admitted_at_ms == first.admitted_at_ms == now
    assert last.expires_at_ms == now + 60_000
