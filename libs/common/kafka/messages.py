"""Kafka payloads as protobuf JSON, with stable message ids and timestamps."""

import hashlib
import uuid

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from common.kafka import protojson

_NAMESPACE = uuid.UUID("8f2b1c9e-5d0a-4f7e-9b61-0c3d2a4e5f60")
_NAMESPACE_BYTES = _NAMESPACE.bytes


def message_id(kind: str, *parts: str) -> str:
    """A deterministic id, so a message relayed twice is recognisably the same one.

    uuid.uuid5(_NAMESPACE, "kind/part/..."), computed without a UUID object (a relay makes
    one for every join)."""
    name = "/".join((kind, *parts)).encode()
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + name).digest()[:16])
    digest[6] = digest[6] & 0x0F | 0x50  # version 5
    digest[8] = digest[8] & 0x3F | 0x80  # the RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


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
