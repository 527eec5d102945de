import asyncio
import dataclasses
import time

import pytest
from prometheus_client import CollectorRegistry

from common import topics
from common.kafka import PublishError
from common.messages import from_json
from common.outbox import OutboxEntry, OutboxRelay
from tests.unit.fakes import FakeAdmissionStore, FakeOutbox, FakeSender, FakeSigner
from waitroom.config import Settings
from waitroom.metrics import WaitroomMetrics
from waitroom.processor import ProcessorConfig, QueueProcessor
from waitroom.relay import WaitroomOutbox
from waitroomapi.events.v1 import events_pb2

CONFIG = ProcessorConfig(
    interval=0.01,
    session_ttl_seconds=60,
    retry_attempts=3,
    retry_delay=0.001,
    max_processing_duration=5,
)


class CountingRelay:
    def __init__(self):
        self.events = []

    async def pending(self, event_ids):
        return list(event_ids)

    async def relay(self, event_id, max_batches=50):
        self.events.append(event_id)
        return 0


def processor(store, relay=None, config=CONFIG):
    return QueueProcessor(
        store,
        relay or CountingRelay(),
        config,
        WaitroomMetrics(CollectorRegistry()),
        "test",
        lambda: 1_000,
    )


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


async def test_an_event_with_new_entries_is_relayed_at_once_and_alone():
    relay = CountingRelay()
    p = processor(
        FakeAdmissionStore(events=["a", "b"]), relay, dataclasses.replace(CONFIG, interval=3600)
    )
    running = asyncio.create_task(p.run(admit=False))
    await until(lambda: relay.events == ["a", "b"])  # the full pass at start
    p.relay_soon("b")
    await until(lambda: relay.events == ["a", "b", "b"])
    p.stop()
    await running


def entries():
    return [
        OutboxEntry("1-0", "joined", {"session": "A" * 22, "user": "u1", "at": "1000"}),
        OutboxEntry(
            "2-0",
            "ready",
            {"session": "A" * 22, "user": "u1", "at": "2000", "expires_at": "902000", "seq": "1"},
        ),
    ]


def relay(outbox, sender):
    convert = WaitroomOutbox(FakeSigner()).convert
    return OutboxRelay(outbox, sender, lambda e: f"{e}:outbox", convert, "me", 100, 1000)


async def test_the_relay_publishes_then_acknowledges_with_the_signed_token():
    outbox, sender = FakeOutbox(entries()), FakeSender()
    assert await relay(outbox, sender).relay("concert") == 2
    assert [r.topic for r in sender.sent] == [topics.QUEUE_JOINED, topics.QUEUE_READY]
    ready = from_json(sender.sent[1].value, events_pb2.QueueReady())
    assert ready.checkout_token == f"token-for-concert~{'A' * 22}"
    assert ready.event_id == "concert"
    assert ready.expires_at.ToMilliseconds() == 902_000
    assert outbox.acked == ["1-0", "2-0"]


async def test_nothing_is_acknowledged_when_kafka_does_not_confirm():
    outbox = FakeOutbox(entries())
    with pytest.raises(PublishError):
        await relay(outbox, FakeSender(fail=True)).relay("concert")
    assert outbox.acked == []


async def test_a_relayed_message_keeps_its_message_id():
    first, second = FakeSender(), FakeSender()
    await relay(FakeOutbox(entries()), first).relay("concert")
    await relay(FakeOutbox(entries()), second).relay("concert")
    assert [r.value for r in first.sent] == [r.value for r in second.sent]


def test_durations_read_like_the_source_system(monkeypatch):
    monkeypatch.setenv("QUEUE_PROCESS_INTERVAL", "500ms")
    monkeypatch.setenv("QUEUE_SESSION_TTL", "1h30m")
    settings = Settings()
    assert settings.queue_process_interval.total_seconds() == 0.5
    assert settings.queue_session_ttl.total_seconds() == 5400
    assert settings.queue_shutdown_timeout.total_seconds() == 30


def test_off_loopback_the_service_refuses_to_start_without_an_admin_token(monkeypatch):
    monkeypatch.setenv("GRPC_HOST", "0.0.0.0")
    monkeypatch.delenv("WAITROOM_ADMIN_TOKEN", raising=False)
    with pytest.raises(ValueError, match="WAITROOM_ADMIN_TOKEN is required"):
        Settings().admin_token()
    monkeypatch.setenv("GRPC_HOST", "127.0.0.1")
    assert Settings().admin_token() == "dev-admin-token"
