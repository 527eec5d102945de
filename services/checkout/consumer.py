"""Checkout's Kafka handlers: EVENT_UPDATED sets inventory, QUEUE_READY creates holds."""

from collections.abc import Callable

from aiokafka import ConsumerRecord

from checkout.models import EventSettings, UnknownEventError
from checkout.repository import CheckoutRepository
from checkout.service import Verifier
from common.kafka import topics
from common.kafka.records import PoisonMessageError, checked_id, parse
from common.tokens.ids import InvalidIdError, parse_session_id
from common.tokens.signing import InvalidTokenError
from waitroomapi.events.v1 import events_pb2

TOPICS = (topics.EVENT_UPDATED, topics.QUEUE_READY)


class CheckoutHandlers:
    def __init__(
        self,
        store: CheckoutRepository,
        verifier: Verifier,
        per_hold: int,
        clock_ms: Callable[[], int],
    ) -> None:
        self._store = store
        self._verifier = verifier
        self._per_hold = per_hold
        self._now = clock_ms

    async def __call__(self, record: ConsumerRecord[bytes, bytes]) -> None:
        if record.topic == topics.EVENT_UPDATED:
            await self._event_updated(record.value or b"")
        elif record.topic == topics.QUEUE_READY:
            await self._queue_ready(record.value or b"")

    async def _event_updated(self, value: bytes) -> None:
        message = parse(value, events_pb2.EventUpdated())
        settings = EventSettings(
            event_id=checked_id("event_id", message.event_id),
            tickets=message.tickets,
            checkout_ttl_seconds=message.checkout_ttl_seconds,
            state=message.state,
            version=message.version,
        )
        await self._store.configure(settings, message.message_id, self._per_hold, self._now())

    async def _queue_ready(self, value: bytes) -> None:
        message = parse(value, events_pb2.QueueReady())
        try:
            # Consumed late, a QUEUE_READY still makes its (then expired) hold and frees the slot.
            claims = await self._verifier.verify(message.checkout_token, allow_expired=True)
            event_id, token = parse_session_id(message.session_id)
        except (InvalidTokenError, InvalidIdError) as error:
            raise PoisonMessageError(f"QUEUE_READY with a bad token or session: {error}") from error
        if (claims.session_id, claims.event_id, claims.user_id) != (
            message.session_id,
            message.event_id,
            message.user_id,
        ) or event_id != message.event_id:
            raise PoisonMessageError("QUEUE_READY does not match its checkout token")
        outcome, _ = await self._store.hold(
            event_id,
            token,
            claims.user_id,
            claims.expires_at * 1000,
            self._per_hold,
            self._now(),
            message.message_id,
        )
        if outcome == "unknown_event":
            raise UnknownEventError(f"no EVENT_UPDATED for {event_id!r} yet")
