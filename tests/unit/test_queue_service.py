import types

import pytest

from common.kafka import topics
from common.kafka.messages import to_json
from common.kafka.records import PoisonMessageError
from common.tokens.ids import InvalidIdError, make_session_id
from tests.unit.fakes import DEFAULTS, FakeOutcomeStore, FakeQueueStore, FakeSigner, record
from waitroom.admin import EventAdmin
from waitroom.consumer import WaitroomHandlers
from waitroom.models import (
    EventAction,
    EventChange,
    EventConfig,
    EventState,
    EventView,
    FailedPreconditionError,
    NotFoundError,
    Status,
)
from waitroom.service import CheckoutOutcomes, QueueService
from waitroomapi.events.v1 import events_pb2

NOW = 1_000_000
SESSION = make_session_id("concert", "A" * 22)


def service(store, now=NOW, signer=None):
    return QueueService(store, signer or FakeSigner(), DEFAULTS, lambda: now)


async def test_join_returns_a_one_based_position():
    joined = await service(FakeQueueStore()).join("user1", "concert")
    assert joined.position == 1
    assert joined.status is Status.QUEUED
    assert joined.session_id.startswith("concert~")


async def test_before_opening_no_position_is_shown():
    store = FakeQueueStore(opens_at_ms=NOW + 60_000)
    joined = await service(store).join("user1", "concert")
    assert joined.position == 0


async def test_lottery_scores_stay_below_every_join_sequence():
    store = FakeQueueStore()
    for i in range(200):
        await service(store).join(f"user{i}", "concert")
    assert all(0 <= lottery < 1 for _, _, lottery in store.joins)
    assert len({lottery for _, _, lottery in store.joins}) == 200


@pytest.mark.parametrize(
    ("user_id", "event_id"), [("", "concert"), ("user1", ""), ("u" * 129, "e")]
)
async def test_join_refuses_bad_ids_without_touching_the_store(user_id, event_id):
    store = FakeQueueStore()
    with pytest.raises(InvalidIdError):
        await service(store).join(user_id, event_id)
    assert store.joins == []


async def test_join_on_a_paused_event_fails_its_precondition():
    with pytest.raises(FailedPreconditionError, match="paused"):
        await service(FakeQueueStore(state="paused")).join("user1", "concert")


async def test_join_on_an_unknown_event_is_not_found():
    with pytest.raises(NotFoundError):
        await service(FakeQueueStore(state="not_found")).join("user1", "nowhere")


async def test_wait_estimate_uses_the_measured_admission_rate():
    store = FakeQueueStore(sessions={"A" * 22: record(rank=99, recent=60, window=60_000)})
    status = await service(store).status(SESSION)
    assert status.position == 100
    assert status.estimated_wait_seconds == 100  # 100 people at 1 per second


async def test_wait_estimate_falls_back_to_one_batch_per_interval():
    store = FakeQueueStore(sessions={"A" * 22: record(rank=99, batch=10)})
    assert (await service(store).status(SESSION)).estimated_wait_seconds == 10


async def test_an_admitted_session_gets_its_token_signed_from_its_own_fields():
    signer = FakeSigner()
    store = FakeQueueStore(sessions={"A" * 22: record(status=Status.ADMITTED, rank=None)})
    status = await service(store, signer=signer).status(SESSION)
    assert status.checkout_token == f"token-for-{SESSION}"
    assert status.checkout_expires_at_ms == 905_000
    assert signer.signed[0].expires_at == 905


async def test_a_queued_session_has_no_token():
    store = FakeQueueStore(sessions={"A" * 22: record()})
    status = await service(store).status(SESSION)
    assert status.checkout_token == ""
    assert status.checkout_expires_at_ms == 0


async def test_status_of_an_unknown_session_is_not_found():
    with pytest.raises(NotFoundError):
        await service(FakeQueueStore()).status(SESSION)


async def test_an_admitted_session_cannot_leave_the_queue():
    store = FakeQueueStore(sessions={"A" * 22: record(status=Status.ADMITTED)})
    with pytest.raises(FailedPreconditionError, match="cancel"):
        await service(store).leave(SESSION)


async def test_a_join_or_a_leave_tells_the_relay_which_outbox_to_read():
    told: list[str] = []
    store = FakeQueueStore(sessions={"A" * 22: record()})
    queue = QueueService(store, FakeSigner(), DEFAULTS, lambda: NOW, told.append)
    await queue.join("user1", "concert")
    await queue.leave(SESSION)
    assert told == ["concert", "concert"]


async def test_a_refused_join_tells_the_relay_nothing():
    told: list[str] = []
    queue = QueueService(
        FakeQueueStore(state="paused"), FakeSigner(), DEFAULTS, lambda: NOW, told.append
    )
    with pytest.raises(FailedPreconditionError):
        await queue.join("user1", "concert")
    assert told == []


class AdminStore:
    """An event's settings and its state, for EventAdmin."""

    def __init__(self, state=EventState.OPEN):
        self.config = EventConfig("concert", 10, 5, 900, NOW + 3_600_000, 100, state)
        self.created: list[EventConfig] = []
        self.changes: list[EventChange] = []

    async def create_event(self, config, now_ms):
        self.created.append(config)
        return EventView(config, 0, 0, 0)

    async def update_event(self, event_id, change, now_ms):
        self.changes.append(change)
        return EventView(self.config, 0, 0, 0)


def admin(store):
    return EventAdmin(store, DEFAULTS, lambda: NOW)


async def test_a_new_event_takes_the_defaults_for_what_it_leaves_out():
    store = AdminStore()
    await admin(store).create(EventConfig("concert", 0, 0, 0, 0, 0, EventState.OPEN))
    created = store.created[0]
    assert (created.max_concurrent, created.batch_size, created.checkout_ttl_seconds) == (
        100,
        10,
        900,
    )
    assert created.opens_at_ms == NOW


@pytest.mark.parametrize(
    "change",
    [
        EventChange(batch_size=0),
        EventChange(max_concurrent=0),
        EventChange(checkout_ttl_seconds=24 * 3600 + 1),
        EventChange(tickets=-1),
    ],
)
async def test_a_setting_out_of_bounds_is_refused_before_the_store_is_asked(change):
    store = AdminStore()
    with pytest.raises(ValueError, match="must be between"):
        await admin(store).update("concert", change)
    assert store.changes == []


@pytest.mark.parametrize(
    ("state", "change", "wakes"),
    [
        (EventState.OPEN, EventChange(opens_at_ms=NOW), True),  # opens now
        (EventState.OPEN, EventChange(opens_at_ms=NOW + 60_000), False),  # opens later
        (EventState.PAUSED, EventChange(action=EventAction.RESUME), True),
        (EventState.OPEN, EventChange(action=EventAction.PAUSE), False),
        (EventState.OPEN, EventChange(tickets=50), False),
    ],
)
async def test_an_opening_or_a_resume_asks_for_admission_at_once(state, change, wakes):
    asked: list[bool] = []
    admin = EventAdmin(AdminStore(state), DEFAULTS, lambda: NOW, lambda: asked.append(True))
    await admin.update("concert", change)
    assert bool(asked) is wakes


@pytest.mark.parametrize(
    ("topic_call", "status"),
    [
        (lambda o: o.completed("concert", "tok", "m1"), Status.COMPLETED),
        (lambda o: o.cancelled("concert", "tok", "m1"), Status.CANCELLED),
        (lambda o: o.expired("concert", "tok", "timeout", "m1"), Status.EXPIRED),
        (lambda o: o.expired("concert", "tok", "sold_out", "m1"), Status.SOLD_OUT),
    ],
)
async def test_a_hold_that_ends_frees_its_slot_with_the_status_checkout_reported(
    topic_call, status
):
    store = FakeOutcomeStore()
    await topic_call(CheckoutOutcomes(store, lambda: NOW))
    assert store.finished == [("concert", "tok", status, "m1")]


def expired_record(session_id, reason="sold_out"):
    message = events_pb2.CheckoutExpired(
        message_id="m1", session_id=session_id, event_id="concert", reason=reason
    )
    return types.SimpleNamespace(topic=topics.CHECKOUT_EXPIRED, value=to_json(message))


async def test_a_checkout_message_reaches_the_service_with_the_sessions_token():
    store = FakeOutcomeStore()
    await WaitroomHandlers(CheckoutOutcomes(store, lambda: NOW))(expired_record(SESSION))
    assert store.finished == [("concert", "A" * 22, Status.SOLD_OUT, "m1")]


async def test_a_message_with_a_bad_session_id_is_poison_and_changes_nothing():
    store = FakeOutcomeStore()
    with pytest.raises(PoisonMessageError):
        await WaitroomHandlers(CheckoutOutcomes(store, lambda: NOW))(expired_record("garbage"))
    assert store.finished == []


async def test_a_leave_an_admin_change_and_a_sold_out_tell_the_watchers_which_event_changed():
    changed: list[str] = []
    store = FakeQueueStore(sessions={"A" * 22: record(status=Status.LEFT)})
    queue = QueueService(store, FakeSigner(), DEFAULTS, lambda: NOW, left=changed.append)
    await queue.leave(SESSION)
    admin = EventAdmin(AdminStore(), DEFAULTS, lambda: NOW, changed=changed.append)
    await admin.update("concert", EventChange(action=EventAction.PAUSE))
    await CheckoutOutcomes(FakeOutcomeStore(), lambda: NOW, changed.append).sold_out("concert")
    assert changed == ["concert"] * 3


async def test_a_leave_refused_tells_the_watchers_nothing():
    changed: list[str] = []
    store = FakeQueueStore(sessions={"A" * 22: record(status=Status.ADMITTED)})
    queue = QueueService(store, FakeSigner(), DEFAULTS, lambda: NOW, left=changed.append)
    with pytest.raises(FailedPreconditionError):
        await queue.leave(SESSION)
    assert changed == []
