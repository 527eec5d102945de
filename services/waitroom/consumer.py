"""The waitroom's Kafka handlers: checkout outcomes free slots; EVENT_SOLD_OUT ends the line."""

from typing import Protocol

from aiokafka import ConsumerRecord

from common.kafka import topics
from common.kafka.records import checked_id, checked_session, parse
from waitroom.event_settings import Finish
from waitroomapi.events.v1 import events_pb2

TOPICS = (
    topics.CHECKOUT_COMPLETED,
    topics.CHECKOUT_EXPIRED,
    topics.CHECKOUT_CANCELLED,
    topics.EVENT_SOLD_OUT,
)


class Outcomes(Protocol):
    async def completed(self, event_id: str, token: str, message_id: str) -> Finish: ...

    async def cancelled(self, event_id: str, token: str, message_id: str) -> Finish: ...

    async def expired(self, event_id: str, token: str, reason: str, message_id: str) -> Finish: ...

    async def sold_out(self, event_id: str) -> None: ...


class _OfSession(Protocol):
    session_id: str
    event_id: str


def _token(message: _OfSession) -> str:
    """The session's token; a bad session or event id makes the message poison."""
    return checked_session(message.session_id, message.event_id)


class WaitroomHandlers:
    """Parses each message, checks its ids (a bad one is a dead letter), calls the service."""

    def __init__(self, outcomes: Outcomes) -> None:
        self._outcomes = outcomes

    async def __call__(self, record: ConsumerRecord[bytes, bytes]) -> None:
        if record.topic == topics.EVENT_SOLD_OUT:
            sold_out = parse(record.value, events_pb2.EventSoldOut())
            await self._outcomes.sold_out(checked_id("event_id", sold_out.event_id))
        elif record.topic == topics.CHECKOUT_COMPLETED:
            done = parse(record.value, events_pb2.CheckoutCompleted())
            await self._outcomes.completed(done.event_id, _token(done), done.message_id)
        elif record.topic == topics.CHECKOUT_CANCELLED:
            cancelled = parse(record.value, events_pb2.CheckoutCancelled())
            await self._outcomes.cancelled(
                cancelled.event_id, _token(cancelled), cancelled.message_id
            )
        elif record.topic == topics.CHECKOUT_EXPIRED:
            expired = parse(record.value, events_pb2.CheckoutExpired())
            await self._outcomes.expired(
                expired.event_id, _token(expired), expired.reason, expired.message_id
            )
