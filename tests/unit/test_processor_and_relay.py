import asyncio
import contextlib
import dataclasses
import time
import types

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from prometheus_client import CollectorRegistry

from common.kafka import topics
from common.kafka.messages import from_json
from common.kafka.outbox import OutboxEntry, OutboxRelay
from common.kafka.publisher import PublishError
from common.tokens.signing import TokenSigner
from tests.unit.fakes import (
    DEFAULTS,
    FakeAdmissionStore,
    FakeOutbox,
    FakeQueueStore,
    FakeSender,
    FakeSigner,
    record,
)
from waitroom.metrics import WaitroomMetrics
from waitroom.models import ADMIT_STEP, AdmissionResult, ProcessorConfig, Status
from waitroom.processor import QueueProcessor
from waitroom.relay import WaitroomOutbox
from waitroom.service import QueueService
from waitroomapi.events.v1 import events_pb2

CONFIG = ProcessorConfig(
    interval=0.01,
    session_ttl_seconds=60,
    retry_attempts=3,
    retry_delay=0.001,
    max_processing_duration=5,
)


class CountingRelay:
    def __init__(self, empty=()):
        self.events = []
        self.empty = set(empty)  # events whose outbox holds nothing

    async def pending(self, event_ids):
        return [e for e in event_ids if e not in self.empty]

    async def relay(self, event_id, max_batches=50):
        self.events.append(event_id)
        return 0


def processor(store, relay=None, config=CONFIG, tell=lambda hint: None, admitted=lambda e: None):
    return QueueProcessor(
        store,
        relay or CountingRelay(),
        config,
        WaitroomMetrics(CollectorRegistry()),
        "test",
        lambda: 1_000,
        tell,
        admitted,
    )


async def test_a_step_that_admitted_someone_tells_the_watchers_of_its_event():
    told: list[str] = []
    store = FakeAdmissionStore(events=["bad", "good"], failing={"bad"})
    await processor(store, admitted=told.append).run_cycle()
    assert told == ["good"]


async def test_a_failing_event_is_skipped_and_counted_while_others_are_admitted():
    store = FakeAdmissionStore(events=["bad", "good"], failing={"bad"})
    p = processor(store)
    admitted = await p.run_cycle()
    assert admitted == 2
    assert p.status.error_count == 1
    assert [e for e, _ in store.calls].count("bad") == CONFIG.retry_attempts


async def test_retries_of_one_cycle_reuse_its_cycle_id():
    store = FakeAdmissionStore(events=["bad"], failing={"bad"})
    await processor(store).run_cycle()
    assert len({cycle for _, cycle in store.calls}) == 1


class FailingRelay:
    def __init__(self, failing):
        self.failing, self.calls = failing, []

    async def pending(self, event_ids):
        return list(event_ids)

    async def relay(self, event_id, max_batches=50):
        self.calls.append(event_id)
        if event_id in self.failing:
            raise ConnectionError("kafka down")
        return 1


async def test_a_failing_relay_is_retried_counted_and_never_stops_the_others():
    relay = FailingRelay({"bad"})
    p = processor(FakeAdmissionStore(events=["bad", "good"]), relay)
    assert await p.relay_all() == 1
    assert relay.calls.count("bad") == CONFIG.retry_attempts
    assert p.status.error_count == 1


async def test_admission_does_not_wait_for_the_relay():
    relay = CountingRelay()
    p = processor(FakeAdmissionStore(events=["e"]), relay)
    await p.run_cycle()
    assert relay.events == []


async def until(check, within=5.0):
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "not within time"
        await asyncio.sleep(0.005)


async def test_an_opening_starts_admission_at_once_not_at_the_next_interval():
    store = FakeAdmissionStore(events=["e"])
    p = processor(store, config=dataclasses.replace(CONFIG, interval=3600))
    running = asyncio.create_task(p.run())
    await until(lambda: len(store.calls) == 1)  # the first cycle; the next is an hour away
    p.admit_soon()
    await until(lambda: len(store.calls) == 2)
    p.stop()
    await running


@contextlib.asynccontextmanager
async def relaying(events, empty=(), quiet_linger=CONFIG.quiet_linger):
    """A processor that only relays, its next full pass an hour away, after its first one."""
    relay = CountingRelay(empty)
    config = dataclasses.replace(CONFIG, interval=3600, quiet_linger=quiet_linger)
    p = processor(FakeAdmissionStore(events=events), relay, config)
    running = asyncio.create_task(p.run(admit=False))
    await until(lambda: relay.events == [e for e in events if e not in relay.empty])
    try:
        yield p, relay
    finally:
        p.stop()
        await running


async def test_an_event_with_new_entries_is_relayed_at_once_and_alone():
    async with relaying(["a", "b"]) as (p, relay):
        p.relay_soon("b")
        await until(lambda: relay.events == ["a", "b", "b"])


async def test_joins_wait_for_a_bigger_batch_unless_an_admission_comes():
    async with relaying(["a", "b"], quiet_linger=3600) as (p, relay):
        p.relay_later("a")  # a join: its QUEUE_JOINED waits (here an hour) for more
        await asyncio.sleep(0.1)
        assert relay.events == ["a", "b"]
        p.relay_soon("b")  # an admission ends the wait: both go now
        await until(lambda: relay.events == ["a", "b", "a", "b"])


async def test_joins_alone_are_relayed_after_the_quiet_linger():
    async with relaying(["a"], quiet_linger=0.01) as (p, relay):
        p.relay_later("a")
        await until(lambda: relay.events == ["a", "a"])


async def test_another_replicas_opening_starts_admission_here_and_ours_tells_them():
    store, told = FakeAdmissionStore(events=["e"]), []
    p = processor(store, config=dataclasses.replace(CONFIG, interval=3600), tell=told.append)
    running = asyncio.create_task(p.run())
    await until(lambda: len(store.calls) == 1)
    p.hear("admit")  # another replica handled the opening
    await until(lambda: len(store.calls) == 2)
    assert told == []  # what it heard it does not repeat
    p.admit_soon()
    await until(lambda: len(store.calls) == 3)
    assert told == ["admit"]
    p.stop()
    await running


async def test_a_full_admission_step_asks_every_replica_to_help_relay_once_a_cycle():
    class BigLine(FakeAdmissionStore):
        async def admit(self, event_id, cycle_id, now_ms, ttl_s, already=0, limit=1000):
            await super().admit(event_id, cycle_id, now_ms, ttl_s, already, limit)
            admitted = limit if already < 2_500 else 0  # three full steps, then the room is full
            return AdmissionResult(admitted=admitted, reaped=0, queue_length=9, processing=9)

    told = []
    busy = processor(BigLine(events=["big"]), tell=told.append)
    quiet = processor(FakeAdmissionStore(events=["small"]), tell=told.append)
    assert await busy.run_cycle() == 3 * ADMIT_STEP
    assert await quiet.run_cycle() == 2  # two people: this replica relays them alone
    assert told == ["relay big"]


async def test_a_hint_to_relay_relays_that_event_at_once():
    async with relaying(["a", "b"], empty={"nothing-here"}) as (p, relay):
        # malformed hints are ignored, and an event with nothing to relay here is left alone
        for hint in ("relay nothing-here", "relay b", "relay", "unknown words", ""):
            p.hear(hint)
        await until(lambda: relay.events == ["a", "b", "b"])
        await asyncio.sleep(0.1)
        assert relay.events == ["a", "b", "b"]


def entries():
    return [
        OutboxEntry("1-0", "joined", {"session": "A" * 22, "user": "u1", "at": "1000"}),
        OutboxEntry(
            "2-0",
            "ready",
            {"session": "A" * 22, "user": "u1", "at": "2000", "expires_at": "902000", "seq": "1"},
        ),
    ]


def relay(outbox, sender, clock=time.monotonic):
    convert = WaitroomOutbox(FakeSigner()).convert
    return OutboxRelay(
        outbox, sender, lambda e: f"{e}:outbox", convert, "me", 100, 1000, clock=clock
    )


async def test_the_relay_publishes_then_acknowledges_with_the_signed_token():
    outbox, sender = FakeOutbox(entries()), FakeSender()
    assert await relay(outbox, sender).relay("concert") == 2
    assert [r.topic for r in sender.sent] == [topics.QUEUE_JOINED, topics.QUEUE_READY]
    ready = from_json(sender.sent[1].value, events_pb2.QueueReady())
    assert ready.checkout_token == f"token-for-concert~{'A' * 22}"
    assert ready.event_id == "concert"
    assert ready.expires_at.ToMilliseconds() == 902_000
    assert outbox.acked == ["1-0", "2-0"]


async def test_the_relays_token_is_the_one_an_admitted_person_reads_in_their_status():
    key = Ed25519PrivateKey.generate()
    sender = FakeSender()
    convert = WaitroomOutbox(TokenSigner(key)).convert
    await OutboxRelay(FakeOutbox(entries()), sender, str, convert, "me", 100, 1000).relay("concert")
    ready = from_json(sender.sent[1].value, events_pb2.QueueReady())
    admitted = dataclasses.replace(
        record(status=Status.ADMITTED), admitted_at_ms=2000, expires_at_ms=902_000, user_id="u1"
    )
    store = FakeQueueStore(sessions={"A" * 22: admitted})
    queue = QueueService(store, TokenSigner(key), DEFAULTS, lambda: 3000)
    status = await queue.status(ready.session_id)
    assert status.checkout_token == ready.checkout_token


async def test_nothing_is_acknowledged_when_kafka_does_not_confirm():
    outbox = FakeOutbox(entries())
    with pytest.raises(PublishError):
        await relay(outbox, FakeSender(fail=True)).relay("concert")
    assert outbox.acked == []


async def test_a_relay_claims_on_its_first_read_of_a_stream_then_every_quarter_idle_time():
    clock = types.SimpleNamespace(now=100.0)
    outbox = FakeOutbox([])
    relaying = relay(outbox, FakeSender(), lambda: clock.now)  # claims entries idle 1000 ms
    await relaying.relay("concert")
    await relaying.relay("concert")
    clock.now += 0.2
    await relaying.relay("concert")
    clock.now += 0.05  # a quarter of the idle time since the last claim
    await relaying.relay("concert")
    await relaying.relay("festival")  # another stream: its first read claims
    assert outbox.claims == [1000, None, None, 1000, 1000]


async def test_a_relayed_message_keeps_its_message_id():
    first, second = FakeSender(), FakeSender()
    await relay(FakeOutbox(entries()), first).relay("concert")
    await relay(FakeOutbox(entries()), second).relay("concert")
    assert [r.value for r in first.sent] == [r.value for r in second.sent]
