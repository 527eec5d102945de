"""Protobuf JSON of flat string messages (QUEUE_JOINED, QUEUE_LEFT) without building one.

Every join's QUEUE_JOINED is printed once by the relay and read once by stats. Building the
protobuf message and printing it through protojson costs the relay some 25 µs a record and
the reading costs stats some 10; these functions write and read the same bytes in a few µs.
They cover only the exact shape our relays print (sorted keys, ASCII strings, Timestamps of
whole milliseconds); anything else is for protojson, the reference they are tested against
(tests/unit/test_flatjson.py).
"""

import json
import re
from datetime import datetime
from functools import lru_cache
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

# What a Timestamp of whole milliseconds prints as, in UTC.
_RFC3339_MS = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{3}))?Z")
_EPOCH = datetime(1970, 1, 1)
_quote = json.encoder.encode_basestring_ascii  # the quoter json.dumps uses (ensure_ascii)


@lru_cache(maxsize=1024)
def _whole_seconds_text(seconds: int) -> str:
    return Timestamp(seconds=seconds).ToJsonString()[:-1]  # without its "Z"


def timestamp_text_ms(ms: int) -> str:
    """What protobuf prints for a Timestamp set by FromMilliseconds(ms): the seconds' text is
    remembered (a crowd's joins share their seconds), the milliseconds appended."""
    seconds, millis = divmod(ms, 1000)
    whole = _whole_seconds_text(seconds)
    return f"{whole}.{millis:03d}Z" if millis else f"{whole}Z"


def strings_json(fields: dict[str, str]) -> bytes:
    """What protojson.to_json prints for a message whose fields are these strings (a
    Timestamp given as its timestamp_text_ms): keys sorted, empty strings left out."""
    return (
        "{"
        + ", ".join(f'"{name}": {_quote(fields[name])}' for name in sorted(fields) if fields[name])
        + "}"
    ).encode()


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    js = dict(pairs)
    if len(js) != len(pairs):  # json_format refuses a key given twice
        raise ValueError("a key given twice")
    return js


_DECODER = json.JSONDecoder(object_pairs_hook=_unique_keys)


def read_flat(
    payload: bytes | None, strings: frozenset[str], stamps: frozenset[str]
) -> dict[str, Any] | None:
    """The fields of a payload that is exactly what strings_json prints with every one of
    `strings` and `stamps` (Timestamps, read as ms) present and non-empty; None for anything
    else (a field missing, unknown or camelCase, non-ASCII, another form): protojson decides."""
    try:
        js = _DECODER.decode((payload or b"").decode("ascii"))
    except ValueError:  # invalid JSON, a key given twice, non-ASCII (UnicodeDecodeError)
        return None
    if type(js) is not dict or len(js) != len(strings) + len(stamps):
        return None
    for name, value in js.items():
        if type(value) is not str or not value:
            return None
        if name in stamps:
            ms = _read_ms(value)
            if ms is None:
                return None
            js[name] = ms
        elif name not in strings:
            return None
    return js


def _read_ms(text: str) -> int | None:
    match = _RFC3339_MS.fullmatch(text)
    if match is None:
        return None
    try:
        return _whole_seconds_of(match[1]) * 1000 + int(match[2] or 0)
    except ValueError:  # no such date or time (a 61st second, a year 0)
        return None


@lru_cache(maxsize=1024)
def _whole_seconds_of(text: str) -> int:
    since = datetime.fromisoformat(text) - _EPOCH
    return since.days * 86_400 + since.seconds
