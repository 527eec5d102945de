"""Protobuf's JSON mapping, fast for the flat messages that travel on Kafka.

json_format walks the descriptors in pure Python for every message: here it takes about
100 µs to parse a QUEUE_READY and 30 µs to print one, paid by the relay, checkout and stats
for every person admitted. For a message whose fields are all strings, bools, integers,
doubles and Timestamps, a plan is built once from its descriptor and the message is printed
and parsed in a few µs.

json_format stays the reference. Anything a plan does not cover exactly goes to it: another
field type, a non-ASCII string, an integer written as a string, a timestamp with an offset,
null, a field given twice, invalid JSON, a message that is not empty. The results are the
same byte for byte and field for field; tests/unit/test_protojson.py compares the two.
"""

import json
import math
import re
from collections.abc import Callable
from datetime import datetime
from functools import cache, lru_cache
from typing import Any

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

TIMESTAMP = "google.protobuf.Timestamp"
# The one timestamp form our printers write; json_format accepts more and parses the rest.
_RFC3339_UTC = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?Z")
_EPOCH = datetime(1970, 1, 1)
_DIGITS = re.compile(r"-?[0-9]+")

Printer = Callable[[Any], Any]
Reader = Callable[[Any], Any]


class _Unplanned(Exception):
    """A value the plan does not cover: json_format decides."""


def to_json(message: Message) -> bytes:
    """MessageToJson(preserving_proto_field_name=True, indent=None, sort_keys=True), as bytes."""
    printers = _printers(message.DESCRIPTOR)
    if printers is not None:
        try:
            js: dict[str, Any] = {}
            for field, value in message.ListFields():
                js[field.name] = printers[field.name](value)
            return json.dumps(js, sort_keys=True).encode()
        except (KeyError, ValueError):  # an extension, an invalid Timestamp: json_format says
            pass
    return json_format.MessageToJson(
        message, preserving_proto_field_name=True, indent=None, sort_keys=True
    ).encode()


def parse(payload: bytes, message: Message) -> Message:
    """json_format.Parse(payload, message, ignore_unknown_fields=True), only faster."""
    readers = _readers(message.DESCRIPTOR)
    if readers is not None and not message.ListFields():
        try:
            return _parse_planned(payload, message, readers)
        except Exception:  # whatever the fast path cannot take, json_format judges
            message.Clear()  # from scratch: the fast path may have set some fields
    return json_format.Parse(payload, message, ignore_unknown_fields=True)


def _parse_planned(
    payload: bytes, parsed: Message, readers: dict[str, tuple[str, Reader]]
) -> Message:
    js = _DECODER.decode(payload.decode("utf-8"))
    if type(js) is not dict:
        raise _Unplanned
    seen = set()
    for key, value in js.items():
        planned = readers.get(key)
        if planned is None:
            if key.startswith("["):  # an extension's name: json_format refuses it
                raise _Unplanned
            continue  # an unknown field, ignored
        name, read = planned
        if name in seen or value is None:
            raise _Unplanned
        seen.add(name)
        read_value = read(value)
        if type(read_value) is tuple:  # a Timestamp: (seconds, nanos)
            stamp = getattr(parsed, name)
            stamp.SetInParent()
            stamp.seconds, stamp.nanos = read_value
        else:
            setattr(parsed, name, read_value)  # an integer out of range raises here
    return parsed


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    js = dict(pairs)
    if len(js) != len(pairs):  # json_format refuses a key given twice
        raise _Unplanned
    return js


_DECODER = json.JSONDecoder(object_pairs_hook=_unique_keys)


@cache
def _printers(descriptor: Descriptor) -> dict[str, Printer] | None:
    plan = {}
    for field in descriptor.fields:
        kind = _kind(field)
        if kind is None:
            return None
        plan[field.name] = _PRINTERS[kind]
    return plan


@cache
def _readers(descriptor: Descriptor) -> dict[str, tuple[str, Reader]] | None:
    plan: dict[str, tuple[str, Reader]] = {}
    for field in descriptor.fields:
        kind = _kind(field)
        if kind is None:
            return None
        for key in (field.json_name, field.name):
            if plan.get(key, (field.name,))[0] != field.name:
                return None  # one field's JSON name is another's proto name
            plan[key] = (field.name, _READERS[kind])
    return plan


def _kind(field: FieldDescriptor) -> str | None:
    """The planned kind of a field, or None when json_format must handle its message."""
    if field.is_repeated or field.containing_oneof is not None or field.is_extension:
        return None
    if field.cpp_type == FieldDescriptor.CPPTYPE_MESSAGE:
        message_type = field.message_type
        return "timestamp" if message_type and message_type.full_name == TIMESTAMP else None
    if field.type == FieldDescriptor.TYPE_BYTES:
        return None
    return {
        FieldDescriptor.CPPTYPE_STRING: "string",
        FieldDescriptor.CPPTYPE_BOOL: "bool",
        FieldDescriptor.CPPTYPE_INT32: "int32",
        FieldDescriptor.CPPTYPE_UINT32: "int32",
        FieldDescriptor.CPPTYPE_INT64: "int64",
        FieldDescriptor.CPPTYPE_UINT64: "int64",
        FieldDescriptor.CPPTYPE_DOUBLE: "double",
    }.get(field.cpp_type)


def _print_double(value: float) -> float | str:
    if math.isfinite(value):
        return value
    raise ValueError("json_format prints NaN and Infinity")


@lru_cache(maxsize=256)
def _timestamp_text(seconds: int, nanos: int) -> str:
    """Protobuf's own printer, remembered: an admission step's messages share their times."""
    return Timestamp(seconds=seconds, nanos=nanos).ToJsonString()


_PRINTERS: dict[str, Printer] = {
    "string": lambda value: value,
    "bool": lambda value: value,
    "int32": lambda value: value,
    "int64": str,  # protobuf's JSON mapping quotes 64-bit integers
    "double": _print_double,
    "timestamp": lambda value: _timestamp_text(value.seconds, value.nanos),
}


def _read_string(value: Any) -> str:
    # json_format refuses unpaired surrogates; ASCII has none, anything else goes to it
    if type(value) is str and value.isascii():
        return value
    raise _Unplanned


def _read_bool(value: Any) -> bool:
    if type(value) is bool:
        return value
    raise _Unplanned


def _read_int32(value: Any) -> int:
    if type(value) is int:
        return value
    raise _Unplanned


def _read_int64(value: Any) -> int:
    if type(value) is int:
        return value
    if type(value) is str and _DIGITS.fullmatch(value):
        return int(value)
    raise _Unplanned


def _read_double(value: Any) -> float:
    if type(value) is int or (type(value) is float and math.isfinite(value)):
        return float(value)
    raise _Unplanned


def _read_timestamp(value: Any) -> tuple[int, int]:
    match = _RFC3339_UTC.fullmatch(value) if type(value) is str else None
    if match is None:
        raise _Unplanned
    since = datetime.fromisoformat(match[1]) - _EPOCH
    fraction = match[2]
    # the same arithmetic as Timestamp.FromJsonString, so the nanos agree to the last digit
    nanos = round(float("0." + fraction) * 1e9) if fraction else 0
    return since.days * 86_400 + since.seconds, nanos


_READERS: dict[str, Reader] = {
    "string": _read_string,
    "bool": _read_bool,
    "int32": _read_int32,
    "int64": _read_int64,
    "double": _read_double,
    "timestamp": _read_timestamp,
}
