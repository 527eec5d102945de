"""What a consumed record is: parsed, checked, or poison bound for its `<topic>.DLQ`."""

import time
from typing import TypeVar

from aiokafka import ConsumerRecord
from google.protobuf.json_format import ParseError
from google.protobuf.message import Message

from common.kafka import topics
from common.kafka.messages import from_json, timestamp_ms, to_json
from common.kafka.publisher import Record
from common.tokens.ids import InvalidIdError, parse_session_id, validate_id
from waitroomapi.events.v1 import events_pb2

M = TypeVar("M", bound=Message)


class PoisonMessageError(Exception):
    """The record can never be applied (unparseable, invalid): it goes to the DLQ at once."""


def parse(value: bytes | None, message: M) -> M:
    """Parses a record's protobuf JSON; anything unparseable or without a message_id is poison."""
    try:
        from_json(value or b"", message)
    except (ParseError, UnicodeDecodeError, ValueError) as error:
        raise PoisonMessageError(f"not a valid {type(message).__name__}: {error}") from error
    if not getattr(message, "message_id", ""):
        raise PoisonMessageError(f"{type(message).__name__} without a message_id")
    return message


def checked_id(kind: str, value: str) -> str:
    """An id a message carries; a bad one makes the message poison."""
    try:
        return validate_id(kind, value)
    except InvalidIdError as error:
        raise PoisonMessageError(str(error)) from error


def checked_session(session_id: str, event_id: str) -> str:
    """The token of a message's session, which must belong to the message's event."""
    try:
        session_event, token = parse_session_id(session_id)
    except InvalidIdError as error:
        raise PoisonMessageError(str(error)) from error
    if session_event != event_id:
        raise PoisonMessageError("session_id and event_id name different events")
    return token


def dead_letter(
    record: ConsumerRecord[bytes, bytes], error: BaseException | None, group_id: str
) -> Record:
    """The `<topic>.DLQ` record for a message that could not be applied, with why."""
    key = (record.key or b"").decode(errors="replace")
    letter = events_pb2.DeadLetter(
        message_id=f"{record.topic}/{record.partition}/{record.offset}",
        timestamp=timestamp_ms(int(time.time() * 1000)),
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=key,
        value=(record.value or b"").decode(errors="replace"),
        error=repr(error),
        consumer_group=group_id,
    )
    return Record(topics.dead_letter(record.topic), key, to_json(letter))
