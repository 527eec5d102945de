"""The waitroom's Kafka handlers: checkout outcomes free slots; EVENT_SOLD_OUT ends the line."""

from collections.abc import Callable
from typing import Protocol

from aiokafka import ConsumerRecord

from common.kafka import topics
from common.kafka.records import checked_id, checked_session, parse
from waitroom.models import Status
from waitroomapi.events.v1 import events_pb2

TOPICS = (
    topics.CHECKOUT_COMPLETED,
    topics.CHECKOUT_EXPIRED,
    topics.CHECKOUT_CANCELLED,
    topics.EVENT_SOLD_OUT,
)


class OutcomeStore(Protocol):
    async def finish(
        self, event_id: str, token: str, status: Status, message_id: str, now_ms: int
    ) -> str: ...

    async def sold_out(self, event_id: str) -> None: ...


class WaitroomHandlers:
    def __init__(self, store: OutcomeStore, clock_ms: Callable[[], int]) -> None:
        self._store = store
        self._now = clock_ms

    async def __call__(self, record: ConsumerRecord[bytes, bytes]) -> None:
        if record.topic == topics.EVENT_SOLD_OUT:
            sold_out = parse(record.value, events_pb2.EventSoldOut())
            event_id = checked_id("event_id", sold_out.event_id)
            await self._store.sold_out(event_id)
            return
        message: events_pb2.CheckoutCompleted | events_pb2.CheckoutCancelled
        if record.topic == topics.CHECKOUT_COMPLETED:
            message, status = parse(record.value, events_pb2.CheckoutCompleted()), Status.COMPLETED
        elif record.topic == topics.CHECKOUT_CANCELLED:
            message, status = parse(record.value, events_pb2.CheckoutCancelled()), Status.CANCELLED
        elif record.topic == topics.CHECKOUT_EXPIRED:
            expired = parse(record.value, events_pb2.CheckoutExpired())
            status = Status.SOLD_OUT if expired.reason == "sold_out" else Status.EXPIRED
            await self._finish(expired.session_id, expired.event_id, status, expired.message_id)
            return
        else:
            return
        await self._finish(message.session_id, message.event_id, status, message.message_id)

    async def _finish(
        self, session_id: str, event_id: str, status: Status, message_id: str
    ) -> None:
        token = checked_session(session_id, event_id)
        await self._store.finish(event_id, token, status, message_id, self._now())
