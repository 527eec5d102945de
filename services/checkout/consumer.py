"""Checkout's Kafka handlers: EVENT_UPDATED sets inventory, QUEUE_READY creates holds."""

from typing import Protocol

from aiokafka import ConsumerRecord

from checkout.models import Admission, Applied, EventSettings, InvalidAdmissionError
from common.kafka import topics
from common.kafka.records import PoisonMessageError, checked_id, checked_session, parse
from waitroomapi.events.v1 import events_pb2

TOPICS = (topics.EVENT_UPDATED, topics.QUEUE_READY)


class Configures(Protocol):
    async def configure(self, settings: EventSettings, message_id: str) -> Applied: ...


class Admits(Protocol):
    async def admit(self, admission: Admission, message_id: str) -> None: ...


class Checkout(Configures, Admits, Protocol):
    """What the handlers need of CheckoutService."""


class CheckoutHandlers:
    def __init__(self, checkout: Checkout) -> None:
        self._checkout = checkout

    async def __call__(self, record: ConsumerRecord[bytes, bytes]) -> None:
        if record.topic == topics.EVENT_UPDATED:
            await self._event_updated(record.value)
        elif record.topic == topics.QUEUE_READY:
            await self._queue_ready(record.value)

    async def _event_updated(self, value: bytes | None) -> None:
        message = parse(value, events_pb2.EventUpdated())
        event_id = checked_id("event_id", message.event_id)
        settings = EventSettings(event_id, message.tickets, message.version)
        await self._checkout.configure(settings, message.message_id)

    async def _queue_ready(self, value: bytes | None) -> None:
        message = parse(value, events_pb2.QueueReady())
        checked_session(message.session_id, checked_id("event_id", message.event_id))
        admission = Admission(
            message.session_id, message.event_id, message.user_id, message.checkout_token
        )
        try:
            await self._checkout.admit(admission, message.message_id)
        except InvalidAdmissionError as error:
            raise PoisonMessageError(str(error)) from error
