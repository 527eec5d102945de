"""The fast protobuf JSON codec gives exactly what json_format gives, for every message we send."""

import json
import math
import random
from collections.abc import Callable
from typing import Any

import pytest
from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from common.kafka import protojson
from waitroomapi.events.v1 import events_pb2
from waitroomapi.stats.v1 import stats_pb2

EVENT_TYPES = [getattr(events_pb2, name) for name in events_pb2.DESCRIPTOR.message_types_by_name]
STRINGS = ["", "a", "e1.Zx-_9", "grüße", "😀", 'quote " and \\ slash', "\n\t", "x" * 300]
INTS = {
    FieldDescriptor.TYPE_INT32: [0, 1, -1, 2**31 - 1, -(2**31)],
    FieldDescriptor.TYPE_UINT32: [0, 1, 2**32 - 1],
    FieldDescriptor.TYPE_INT64: [0, 5, -7, 2**63 - 1, -(2**63)],
    FieldDescriptor.TYPE_UINT64: [0, 9, 2**64 - 1],
}
DOUBLES = [0.0, 1.0, -2.5, 12.0, 1e300, 5e-324, 0.1 + 0.2, float("inf"), float("nan")]
# seconds, nanos: whole seconds, each fraction length json_format prints, the ends of its range
STAMPS = [(0, 0), (1_700_000_000, 0), (1_700_000_000, 123_000_000), (1, 456_000), (-1, 999),
          (253_402_300_799, 999_999_999), (-62_135_596_800, 0)]  # fmt: skip


def reference_print(message: Message) -> bytes:
    return json_format.MessageToJson(
        message, preserving_proto_field_name=True, indent=None, sort_keys=True
    ).encode()


def outcome(parse: Callable[[bytes, Message], Message], payload: bytes, message: Message) -> Any:
    """What a parser made of payload: the message, or the error it raised and its text."""
    try:
        return parse(payload, message)
    except Exception as error:  # ParseError mostly; invalid UTF-8 raises UnicodeDecodeError
        return (type(error).__name__, str(error))


def reference_parse(payload: bytes, message: Message) -> Message:
    return json_format.Parse(payload, message, ignore_unknown_fields=True)


def random_message(message_type: type[Message], rng: random.Random) -> Message:
    message = message_type()
    for field in message.DESCRIPTOR.fields:
        if rng.random() < 0.2:
            continue  # left unset
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            seconds, nanos = rng.choice(STAMPS)
            stamp = getattr(message, field.name)
            stamp.seconds, stamp.nanos = seconds, nanos
        elif field.type == FieldDescriptor.TYPE_STRING:
            setattr(message, field.name, rng.choice(STRINGS))
        elif field.type == FieldDescriptor.TYPE_DOUBLE:
            setattr(message, field.name, rng.choice(DOUBLES))
        elif field.type == FieldDescriptor.TYPE_BOOL:
            setattr(message, field.name, rng.random() < 0.5)
        else:
            setattr(message, field.name, rng.choice(INTS[field.type]))
    return message


def test_every_event_message_is_planned() -> None:
    # otherwise the fast path silently is not one: every topic's message must have a plan
    for message_type in EVENT_TYPES:
        assert protojson._printers(message_type.DESCRIPTOR) is not None, message_type
        assert protojson._readers(message_type.DESCRIPTOR) is not None, message_type


@pytest.mark.parametrize("message_type", EVENT_TYPES, ids=lambda t: t.__name__)
def test_random_messages_print_and_parse_as_json_format_does(
    message_type: type[Message],
) -> None:
    rng = random.Random(message_type.__name__)
    for _ in range(300):
        message = random_message(message_type, rng)
        printed = protojson.to_json(message)
        assert printed == reference_print(message)
        parsed = protojson.parse(printed, message_type())
        assert parsed == reference_parse(printed, message_type())
        # NaN is never equal to itself: compare what the round trip prints instead
        assert protojson.to_json(parsed) == printed


READY = {
    "message_id": "m-1",
    "timestamp": "2026-11-25T13:00:00.123Z",
    "session_id": "e1.abc",
    "user_id": "u1",
    "event_id": "e1",
    "checkout_token": "a.b.c",
    "admitted_at": "2026-11-25T13:00:00Z",
    "expires_at": "2026-11-25T13:10:00.000001Z",
    "join_sequence": 42,
}
UPDATED = {"event_id": "e1", "tickets": "12", "version": 3, "max_concurrent": 10, "state": "open"}


def changed(base: dict[str, Any], **fields: Any) -> bytes:
    return json.dumps({**base, **fields}).encode()


ODD_PAYLOADS = {
    "camel case names": json.dumps({"sessionId": "e1.x", "userId": "u", "joinSequence": 1.5}),
    "unknown fields": changed(READY, extra={"nested": [1, 2]}, more=None),
    "an extension name": changed(READY, **{"[pkg.ext]": 1}),
    "null": changed(READY, user_id=None, admitted_at=None),
    "a key given twice": b'{"user_id": "a", "user_id": "b"}',
    "both names of a field": b'{"user_id": "a", "userId": "b"}',
    "a number for a string": changed(READY, user_id=5),
    "a string for a double": changed(READY, join_sequence="1.5"),
    "NaN as a string": changed(READY, join_sequence="NaN"),
    "a bool for a double": changed(READY, join_sequence=True),
    "a huge integer for a double": changed(READY, join_sequence=10**400),
    "non-ASCII text": changed(READY, user_id="grüße 😀"),
    "an unpaired surrogate": b'{"user_id": "\\ud800"}',
    "a timestamp with an offset": changed(READY, admitted_at="2026-11-25T14:00:00+01:00"),
    "a timestamp with lowercase t": changed(READY, admitted_at="2026-11-25t14:00:00Z"),
    "a timestamp with ten digits": changed(READY, admitted_at="2026-11-25T14:00:00.1234567890Z"),
    "a timestamp on a leap second": changed(READY, admitted_at="2026-12-31T23:59:60Z"),
    "a timestamp in year 0": changed(READY, admitted_at="0000-01-01T00:00:00Z"),
    "a timestamp on 31 February": changed(READY, admitted_at="2026-02-31T00:00:00Z"),
    "a timestamp as a number": changed(READY, admitted_at=1700000000),
    "a JSON array": b"[1, 2]",
    "a JSON string": b'"text"',
    "invalid JSON": b'{"user_id": ',
    "no bytes at all": b"",
    "invalid UTF-8": b'{"user_id": "\xff"}',
    "a UTF-8 BOM": b'\xef\xbb\xbf{"user_id": "u"}',
    "uint64 as a number": changed(UPDATED, tickets=12),
    "uint64 negative": changed(UPDATED, tickets="-1"),
    "uint64 too large": changed(UPDATED, tickets=str(2**64)),
    "uint64 with spaces": changed(UPDATED, tickets=" 12"),
    "uint64 with an underscore": changed(UPDATED, tickets="1_2"),
    "uint32 as a string": changed(UPDATED, max_concurrent="10"),
    "uint32 as a whole float": changed(UPDATED, max_concurrent=10.0),
    "uint32 as a fraction": changed(UPDATED, max_concurrent=10.5),
    "uint32 negative": changed(UPDATED, max_concurrent=-1),
    "uint32 too large": changed(UPDATED, max_concurrent=2**32),
    "int64 as a number": changed(UPDATED, version=2**70),
    "a bool for an integer": changed(UPDATED, max_concurrent=True),
}


@pytest.mark.parametrize("payload", ODD_PAYLOADS.values(), ids=ODD_PAYLOADS.keys())
@pytest.mark.parametrize("message_type", [events_pb2.QueueReady, events_pb2.EventUpdated])
def test_odd_payloads_parse_or_fail_as_json_format_does(
    message_type: type[Message], payload: str | bytes
) -> None:
    data = payload.encode() if isinstance(payload, str) else payload
    expected = outcome(reference_parse, data, message_type())
    assert outcome(protojson.parse, data, message_type()) == expected


def test_a_message_without_a_plan_goes_to_json_format() -> None:
    stats = stats_pb2.EventStats(event_id="e1", joined=3)
    stats.wait_seconds.p50 = 1.5  # a nested message other than a Timestamp: no plan
    assert protojson._printers(stats.DESCRIPTOR) is None
    printed = protojson.to_json(stats)
    assert printed == reference_print(stats)
    assert protojson.parse(printed, stats_pb2.EventStats()) == stats


def test_parsing_into_a_message_that_has_fields_keeps_json_format_merging() -> None:
    payload = changed(READY, user_id="")  # the empty string must overwrite, as json_format does
    ours = events_pb2.QueueReady(user_id="before", event_id="kept")
    theirs = events_pb2.QueueReady(user_id="before", event_id="kept")
    assert protojson.parse(payload, ours) == reference_parse(payload, theirs)
    assert ours.user_id == ""


def test_an_epoch_timestamp_is_present_after_parsing() -> None:
    parsed = events_pb2.QueueReady()
    protojson.parse(b'{"admitted_at": "1970-01-01T00:00:00Z"}', parsed)
    assert parsed.HasField("admitted_at")
    assert (parsed.admitted_at.seconds, parsed.admitted_at.nanos) == (0, 0)


def test_messages_we_send_never_reach_json_format(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("json_format was called")

    monkeypatch.setattr(json_format, "MessageToJson", refuse)
    monkeypatch.setattr(json_format, "Parse", refuse)
    rng = random.Random(7)
    for message_type in EVENT_TYPES:
        for _ in range(50):
            message = random_message(message_type, rng)
            for field in message.DESCRIPTOR.fields:  # non-ASCII and NaN take the reference path
                value = getattr(message, field.name)
                if (isinstance(value, str) and not value.isascii()) or (
                    isinstance(value, float) and not math.isfinite(value)
                ):
                    message.ClearField(field.name)
            assert protojson.parse(protojson.to_json(message), message_type()) == message
