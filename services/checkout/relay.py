"""What checkout relays from its outbox: CHECKOUT_COMPLETED/EXPIRED/CANCELLED, EVENT_SOLD_OUT."""

import logging
from collections.abc import Callable, Mapping

from checkout.models import OutboxKind
from common.kafka import topics
from common.kafka.messages import message_id, timestamp_ms, to_json
from common.kafka.outbox import OutboxEntry
from common.kafka.publisher import Record
from waitroomapi.events.v1 import events_pb2

logger = logging.getLogger(__name__)
Fields = Mapping[str, str]
SessionOutcome = (
    events_pb2.CheckoutCompleted | events_pb2.CheckoutExpired | events_pb2.CheckoutCancelled
)


async def convert(event_id: str, entries: list[OutboxEntry]) -> list[Record]:
    records = [_record(event_id, entry) for entry in entries]
    return [record for record in records if record is not None]


def _record(event_id: str, entry: OutboxEntry) -> Record | None:
    build = _BUILDERS.get(entry.kind)
    if build is None:
        logger.error("dropping outbox entry %s of unknown kind %r", entry.entry_id, entry.kind)
        return None
    return build(event_id, entry.fields)


def _sold_out(event_id: str, f: Fields) -> Record:
    sold_out = events_pb2.EventSoldOut(
        message_id=message_id(topics.EVENT_SOLD_OUT, event_id),
        timestamp=timestamp_ms(int(f["at"])),
        event_id=event_id,
        tickets=int(f["tickets"]),
    )
    return Record(topics.EVENT_SOLD_OUT, event_id, to_json(sold_out))


def _completed(event_id: str, f: Fields) -> Record:
    completed = events_pb2.CheckoutCompleted(
        order_id=f["order_id"],
        quantity=int(f["quantity"]),
        payment_reference=f["payment_reference"],
    )
    return _session_record(topics.CHECKOUT_COMPLETED, event_id, f, completed)


def _expired(event_id: str, f: Fields) -> Record:
    expired = events_pb2.CheckoutExpired(reason=f["reason"])
    return _session_record(topics.CHECKOUT_EXPIRED, event_id, f, expired)


def _cancelled(event_id: str, f: Fields) -> Record:
    return _session_record(topics.CHECKOUT_CANCELLED, event_id, f, events_pb2.CheckoutCancelled())


def _session_record(topic: str, event_id: str, f: Fields, message: SessionOutcome) -> Record:
    """A session's outcome, keyed by its session, with what every outcome carries."""
    session_id = f["session"]
    message.message_id = message_id(topic, session_id)
    message.timestamp.CopyFrom(timestamp_ms(int(f["at"])))
    message.session_id = session_id
    message.user_id = f["user"]
    message.event_id = event_id
    return Record(topic, session_id, to_json(message))


_BUILDERS: dict[str, Callable[[str, Fields], Record]] = {
    OutboxKind.SOLD_OUT: _sold_out,
    OutboxKind.COMPLETED: _completed,
    OutboxKind.EXPIRED: _expired,
    OutboxKind.CANCELLED: _cancelled,
}
