"""Kafka payloads as protobuf JSON, with stable message ids and timestamps."""

import uuid

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from common.kafka import protojson

_NAMESPACE = uuid.UUID("8f2b1c9e-5d0a-4f7e-9b61-0c3d2a4e5f60")


def message_id(kind: str, *parts: str) -> str:
    """A deterministic id, so a message relayed twice is recognisably the same one."""
    return str(uuid.uuid5(_NAMESPACE, "/".join((kind, *parts))))


def timestamp_ms(ms: int) -> Timestamp:
    ts = Timestamp()
    ts.FromMilliseconds(ms)
    return ts


def to_json(message: Message) -> bytes:
    """Protobuf's JSON mapping with the .proto field names, sorted, on one line."""
    return protojson.to_json(message)


def from_json(payload: bytes, message: Message) -> Message:
    """Parses protobuf JSON into message; raises json_format.ParseError on garbage."""
    return protojson.parse(payload, message)
