"""Stats' Kafka handler: every topic's message reduced to a Change and applied idempotently."""

from collections.abc import Sequence
from dataclasses import replace

from aiokafka import ConsumerRecord

from common.kafka import topics
from common.kafka.pooled_consumer import Poison
from common.kafka.records import PoisonMessageError, checked_id, checked_session, parse
from stats.repository import Change, StatsRepository
from waitroomapi.events.v1 import events_pb2

TOPICS = (
    topics.EVENT_UPDATED,
    topics.EVENT_SOLD_OUT,
    topics.QUEUE_JOINED,
    topics.QUEUE_READY,
    topics.QUEUE_LEFT,
    topics.CHECKOUT_COMPLETED,
    topics.CHECKOUT_EXPIRED,
    topics.CHECKOUT_CANCELLED,
)


def change_of(topic: str, value: bytes | None) -> Change:
    """The Change a message makes; PoisonMessageError when it cannot be one."""
    if topic == topics.EVENT_UPDATED:
        u = parse(value, events_pb2.EventUpdated())
        return Change("updated", _event(u.event_id), value=u.version, tickets=u.tickets)
    if topic == topics.EVENT_SOLD_OUT:
        return Change("sold_out", _event(parse(value, events_pb2.EventSoldOut()).event_id))
    if topic == topics.QUEUE_JOINED:
        j = parse(value, events_pb2.QueueJoined())
        return _session("joined", j.session_id, j.event_id, j.user_id, j.joined_at.ToMilliseconds())
    if topic == topics.QUEUE_READY:
        r = parse(value, events_pb2.QueueReady())
        return _session(
            "ready", r.session_id, r.event_id, r.user_id, r.admitted_at.ToMilliseconds()
        )
    if topic == topics.QUEUE_LEFT:
        q = parse(value, events_pb2.QueueLeft())
        return _session("left", q.session_id, q.event_id, q.user_id, q.timestamp.ToMilliseconds())
    if topic == topics.CHECKOUT_COMPLETED:
        c = parse(value, events_pb2.CheckoutCompleted())
        change = _session(
            "completed", c.session_id, c.event_id, c.user_id, c.timestamp.ToMilliseconds()
        )
        return replace(change, value=c.quantity)
    if topic == topics.CHECKOUT_EXPIRED:
        x = parse(value, events_pb2.CheckoutExpired())
        change = _session(
            "expired", x.session_id, x.event_id, x.user_id, x.timestamp.ToMilliseconds()
        )
        return replace(change, reason=x.reason)
    if topic == topics.CHECKOUT_CANCELLED:
        k = parse(value, events_pb2.CheckoutCancelled())
        return _session(
            "cancelled", k.session_id, k.event_id, k.user_id, k.timestamp.ToMilliseconds()
        )
    raise PoisonMessageError(f"stats does not read {topic}")


class StatsHandler:
    """Applies a batch of records at once; the poison among them are handed back for the DLQ."""

    def __init__(self, store: StatsRepository) -> None:
        self._store = store

    async def __call__(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> list[Poison]:
        changes, poison = [], []
        for record in records:
            try:
                changes.append(change_of(record.topic, record.value))
            except PoisonMessageError as error:
                poison.append((record, error))
        if changes:
            await self._store.apply(changes)
        return poison


def _event(event_id: str) -> str:
    return checked_id("event_id", event_id)


def _session(kind: str, session_id: str, event_id: str, user_id: str, at_ms: int) -> Change:
    checked_session(session_id, event_id)
    if user_id:
        checked_id("user_id", user_id)
    return Change(kind, event_id, session_id, user_id, at_ms)
