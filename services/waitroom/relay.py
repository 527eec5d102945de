"""What the waitroom relays from its outbox: QUEUE_JOINED/READY/LEFT and EVENT_UPDATED."""

import asyncio
import logging
from typing import Protocol

from common.kafka import topics
from common.kafka.messages import message_id, timestamp_ms, to_json
from common.kafka.outbox import OutboxEntry
from common.kafka.publisher import Record
from common.tokens.ids import make_session_id
from common.tokens.signing import CheckoutClaims
from waitroom.event_settings import UPDATED_AT, from_fields, number
from waitroomapi.events.v1 import events_pb2

logger = logging.getLogger(__name__)
YIELD_EVERY = 50  # entries converted between turns of the event loop


class Signer(Protocol):
    def sign(self, claims: CheckoutClaims) -> str: ...


class Seal(Protocol):
    def seal(self, token: str, place: int) -> str: ...


class WaitroomOutbox:
    """Turns waitroom outbox entries into Kafka records, signing checkout tokens.

    Tokens are not stored: Ed25519 is deterministic, so GetQueueStatus signs the same token
    from the session's own fields whenever an admitted person asks for it.
    """

    def __init__(self, signer: Signer, seal: Seal | None = None) -> None:
        """seal: seals the place an entry carries into its session id, as JoinQueue did."""
        self._signer, self._seal = signer, seal

    async def convert(self, event_id: str, entries: list[OutboxEntry]) -> list[Record]:
        records = []
        for start in range(0, len(entries), YIELD_EVERY):
            if start:  # signing a batch of admissions takes a while: let requests through
                await asyncio.sleep(0)
            for entry in entries[start : start + YIELD_EVERY]:
                record = self._record(event_id, entry)
                if record is not None:
                    records.append(record)
        return records

    def _record(self, event_id: str, entry: OutboxEntry) -> Record | None:
        if entry.kind == "updated":
            return _event_updated(event_id, entry.fields)
        token, place = entry.fields["session"], entry.fields.get("place")
        sealed = self._seal.seal(token, int(place)) if self._seal and place else ""
        session_id = make_session_id(event_id, token, sealed)
        if entry.kind == "joined":
            return _queue_joined(event_id, session_id, entry.fields)
        if entry.kind == "left":
            return _queue_left(event_id, session_id, entry.fields)
        if entry.kind == "ready":
            return self._queue_ready(event_id, session_id, entry.fields)
        logger.error("dropping outbox entry %s of unknown kind %r", entry.entry_id, entry.kind)
        return None

    def _queue_ready(self, event_id: str, session_id: str, f: dict[str, str]) -> Record:
        at, expires = int(f["at"]), int(f["expires_at"])
        claims = CheckoutClaims.for_hold(session_id, event_id, f["user"], at, expires)
        ready = events_pb2.QueueReady(
            message_id=message_id(topics.QUEUE_READY, session_id),
            timestamp=timestamp_ms(at),
            session_id=session_id,
            user_id=f["user"],
            event_id=event_id,
            checkout_token=self._signer.sign(claims),
            admitted_at=timestamp_ms(at),
            expires_at=timestamp_ms(expires),
            join_sequence=float(f["seq"]),
        )
        return Record(topics.QUEUE_READY, session_id, to_json(ready))


def _queue_joined(event_id: str, session_id: str, f: dict[str, str]) -> Record:
    at = int(f["at"])
    joined = events_pb2.QueueJoined(
        message_id=message_id(topics.QUEUE_JOINED, session_id),
        timestamp=timestamp_ms(at),
        session_id=session_id,
        user_id=f["user"],
        event_id=event_id,
        joined_at=timestamp_ms(at),
    )
    return Record(topics.QUEUE_JOINED, session_id, to_json(joined))


def _queue_left(event_id: str, session_id: str, f: dict[str, str]) -> Record:
    left = events_pb2.QueueLeft(
        message_id=message_id(topics.QUEUE_LEFT, session_id),
        timestamp=timestamp_ms(int(f["at"])),
        session_id=session_id,
        user_id=f["user"],
        event_id=event_id,
        reason=f.get("reason", "left"),
    )
    return Record(topics.QUEUE_LEFT, session_id, to_json(left))


def _event_updated(event_id: str, f: dict[str, str]) -> Record:
    """The config the entry carries, in EVENT_UPDATED's names and units."""
    config = from_fields(event_id, f)
    updated = events_pb2.EventUpdated(
        message_id=message_id(topics.EVENT_UPDATED, event_id, str(config.version)),
        timestamp=timestamp_ms(number(f.get(UPDATED_AT)) or config.opens_at_ms),
        event_id=event_id,
        max_concurrent=config.max_concurrent,
        batch_size=config.batch_size,
        checkout_ttl_seconds=config.checkout_ttl_seconds,
        opens_at=timestamp_ms(config.opens_at_ms),
        tickets=config.tickets,
        state=config.state.value,
        version=config.version,
    )
    return Record(topics.EVENT_UPDATED, event_id, to_json(updated))
