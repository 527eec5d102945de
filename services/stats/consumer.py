"""Stats' Kafka handler: every topic's message reduced to a Change and applied idempotently."""

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Protocol

from aiokafka import ConsumerRecord
from google.protobuf.timestamp_pb2 import Timestamp

from common.kafka import topics
from common.kafka.handlers import Poison
from common.kafka.records import PoisonMessageError, checked_id, checked_session, parse
from stats.models import Change, ChangeKind
from waitroomapi.events.v1 import events_pb2

SessionMessage = (
    events_pb2.QueueJoined
    | events_pb2.QueueReady
    | events_pb2.QueueLeft
    | events_pb2.CheckoutCompleted
    | events_pb2.CheckoutExpired
    | events_pb2.CheckoutCancelled
)


class Applies(Protocol):
    async def apply(self, changes: Sequence[Change]) -> None: ...


class StatsHandler:
    """Applies a batch of records at once; the poison among them are handed back for the DLQ."""

    def __init__(self, stats: Applies) -> None:
        self._stats = stats

    async def __call__(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> list[Poison]:
        changes: list[Change] = []
        poison: list[Poison] = []
        for record in records:
            try:
                changes.append(change_of(record.topic, record.value))
            except PoisonMessageError as error:
                poison.append((record, error))
        if changes:
            await self._stats.apply(changes)
        return poison


def change_of(topic: str, value: bytes | None) -> Change:
    """The Change a message makes; PoisonMessageError when it cannot be one."""
    read = _READERS.get(topic)
    if read is None:
        raise PoisonMessageError(f"stats does not read {topic}")
    return read(value)


def _updated(value: bytes | None) -> Change:
    u = parse(value, events_pb2.EventUpdated())
    return Change(ChangeKind.UPDATED, _event(u.event_id), value=u.version, tickets=u.tickets)


def _sold_out(value: bytes | None) -> Change:
    return Change(ChangeKind.SOLD_OUT, _event(parse(value, events_pb2.EventSoldOut()).event_id))


def _joined(value: bytes | None) -> Change:
    j = parse(value, events_pb2.QueueJoined())
    return _session(ChangeKind.JOINED, j, j.joined_at)


def _ready(value: bytes | None) -> Change:
    r = parse(value, events_pb2.QueueReady())
    return _session(ChangeKind.READY, r, r.admitted_at)


def _left(value: bytes | None) -> Change:
    q = parse(value, events_pb2.QueueLeft())
    return _session(ChangeKind.LEFT, q, q.timestamp)


def _completed(value: bytes | None) -> Change:
    c = parse(value, events_pb2.CheckoutCompleted())
    return replace(_session(ChangeKind.COMPLETED, c, c.timestamp), value=c.quantity)


def _expired(value: bytes | None) -> Change:
    x = parse(value, events_pb2.CheckoutExpired())
    return replace(_session(ChangeKind.EXPIRED, x, x.timestamp), reason=x.reason)


def _cancelled(value: bytes | None) -> Change:
    k = parse(value, events_pb2.CheckoutCancelled())
    return _session(ChangeKind.CANCELLED, k, k.timestamp)


def _event(event_id: str) -> str:
    return checked_id("event_id", event_id)


def _session(kind: ChangeKind, message: SessionMessage, at: Timestamp) -> Change:
    checked_session(message.session_id, message.event_id)
    if message.user_id:
        checked_id("user_id", message.user_id)
    return Change(kind, message.event_id, message.session_id, message.user_id, at.ToMilliseconds())


_READERS: dict[str, Callable[[bytes | None], Change]] = {
    topics.EVENT_UPDATED: _updated,
    topics.EVENT_SOLD_OUT: _sold_out,
    topics.QUEUE_JOINED: _joined,
    topics.QUEUE_READY: _ready,
    topics.QUEUE_LEFT: _left,
    topics.CHECKOUT_COMPLETED: _completed,
    topics.CHECKOUT_EXPIRED: _expired,
    topics.CHECKOUT_CANCELLED: _cancelled,
}
TOPICS = tuple(_READERS)  # stats subscribes to exactly the topics it has a reader for
