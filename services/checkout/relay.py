"""What checkout relays from its outbox: CHECKOUT_COMPLETED/EXPIRED/CANCELLED, EVENT_SOLD_OUT."""

import logging

from common.kafka import topics
from common.kafka.messages import message_id, timestamp_ms, to_json
from common.kafka.outbox import OutboxEntry
from common.kafka.publisher import Record
from waitroomapi.events.v1 import events_pb2

logger = logging.getLogger(__name__)


async def convert(event_id: str, entries: list[OutboxEntry]) -> list[Record]:
    records = [_record(event_id, entry) for entry in entries]
    return [record for record in records if record is not None]


def _record(event_id: str, entry: OutboxEntry) -> Record | None:
    f = entry.fields
    at = timestamp_ms(int(f["at"]))
    if entry.kind == "sold_out":
        sold_out = events_pb2.EventSoldOut(
            message_id=message_id(topics.EVENT_SOLD_OUT, event_id),
            timestamp=at,
            event_id=event_id,
            tickets=int(f["tickets"]),
        )
        return Record(topics.EVENT_SOLD_OUT, event_id, to_json(sold_out))
    session_id, user_id = f["session"], f["user"]
    if entry.kind == "completed":
        completed = events_pb2.CheckoutCompleted(
            message_id=message_id(topics.CHECKOUT_COMPLETED, session_id),
            timestamp=at,
            session_id=session_id,
            user_id=user_id,
            event_id=event_id,
            order_id=f["order_id"],
            quantity=int(f["quantity"]),
            payment_reference=f["payment_reference"],
        )
        return Record(topics.CHECKOUT_COMPLETED, session_id, to_json(completed))
    if entry.kind == "expired":
        expired = events_pb2.CheckoutExpired(
            message_id=message_id(topics.CHECKOUT_EXPIRED, session_id),
            timestamp=at,
            session_id=session_id,
            user_id=user_id,
            event_id=event_id,
            reason=f["reason"],
        )
        return Record(topics.CHECKOUT_EXPIRED, session_id, to_json(expired))
    if entry.kind == "cancelled":
        cancelled = events_pb2.CheckoutCancelled(
            message_id=message_id(topics.CHECKOUT_CANCELLED, session_id),
            timestamp=at,
            session_id=session_id,
            user_id=user_id,
            event_id=event_id,
        )
        return Record(topics.CHECKOUT_CANCELLED, session_id, to_json(cancelled))
    logger.error("dropping outbox entry %s of unknown kind %r", entry.entry_id, entry.kind)
    return None
