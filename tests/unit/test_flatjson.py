"""The join's fast paths give exactly what the reference gives: the relay's QUEUE_JOINED and
QUEUE_LEFT bytes, their message ids, the timestamps, stats' reading, and the place seal."""

import base64
import random
import uuid

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from common.kafka import flatjson, topics
from common.kafka.messages import _NAMESPACE, from_json, message_id, timestamp_ms, to_json
from common.kafka.outbox import OutboxEntry
from common.kafka.records import PoisonMessageError, parse
from common.tokens.ids import new_session_token
from common.tokens.seal import PlaceSeal, _check
from stats.consumer import _session, change_of
from stats.models import ChangeKind
from waitroom.relay import WaitroomOutbox
from waitroomapi.events.v1 import events_pb2

# whole seconds, each millisecond length, before 1970, the ends of Timestamp's range
MILLIS = [0, 1, 999, 1000, 1_764_650_000_000, 1_764_650_000_007, 1_764_650_000_120, -1, -1001,
          253_402_300_799_999, -62_135_596_800_000]  # fmt: skip
STRINGS = frozenset({"message_id", "session_id", "user_id", "event_id"})
STAMPS = frozenset({"timestamp", "joined_at"})


class Signer:
    def sign(self, claims: object) -> str:
        raise AssertionError("joins and leaves sign nothing")


def reference_joined(event_id: str, session_id: str, user_id: str, at: int) -> bytes:
    """QUEUE_JOINED as the relay printed it before: the message built, then protojson."""
    return to_json(
        events_pb2.QueueJoined(
            message_id=message_id(topics.QUEUE_JOINED, session_id),
            timestamp=timestamp_ms(at),
            session_id=session_id,
            user_id=user_id,
            event_id=event_id,
            joined_at=timestamp_ms(at),
        )
    )


def reference_left(event_id: str, session_id: str, user_id: str, at: int, reason: str) -> bytes:
    return to_json(
        events_pb2.QueueLeft(
            message_id=message_id(topics.QUEUE_LEFT, session_id),
            timestamp=timestamp_ms(at),
            session_id=session_id,
            user_id=user_id,
            event_id=event_id,
            reason=reason,
        )
    )


@pytest.mark.parametrize("ms", MILLIS)
def test_a_timestamps_text_is_protobufs_own(ms: int):
    assert flatjson.timestamp_text_ms(ms) == timestamp_ms(ms).ToJsonString()


def test_message_ids_are_uuid5_of_the_namespace():
    for name in ["QUEUE_JOINED/e1~abc", "x", "grüße/😀", "/".join(["a"] * 100)]:
        assert message_id(*name.split("/")) == str(uuid.uuid5(_NAMESPACE, name))


async def test_the_relays_joins_and_leaves_are_the_bytes_protojson_prints():
    rng, seal = random.Random(7), PlaceSeal(b"k" * 32)
    entries, expected = [], []
    for n in range(300):
        token, place, at = new_session_token(), rng.randrange(2**40), rng.choice(MILLIS)
        session_id = f"ev-1.x~{token}.{seal.seal(token, place)}"
        user = rng.choice(["u", "user-7", "a.b:c@d-e_f", "x" * 128])
        fields = {"session": token, "user": user, "at": str(at), "place": str(place)}
        if n % 3:
            entries.append(OutboxEntry(f"1-{n}", "joined", {"kind": "joined", **fields}))
            expected.append(reference_joined("ev-1.x", session_id, user, at))
        else:
            reason = rng.choice(["left", "abandoned", "sold_out"])
            entries.append(OutboxEntry(f"1-{n}", "left", {**fields, "reason": reason}))
            expected.append(reference_left("ev-1.x", session_id, user, at, reason))
    records = await WaitroomOutbox(Signer(), seal).convert("ev-1.x", entries)
    assert [r.value for r in records] == expected
    assert {r.topic for r in records} == {topics.QUEUE_JOINED, topics.QUEUE_LEFT}


def test_strings_json_leaves_out_empty_strings_and_quotes_as_json_does():
    printed = flatjson.strings_json({"user_id": 'q"\\\n', "event_id": "", "session_id": "é"})
    assert printed == to_json(events_pb2.QueueJoined(user_id='q"\\\n', session_id="é"))


def test_stats_reading_of_a_printed_join_is_what_parse_reads():
    for ms in MILLIS[:8]:
        payload = reference_joined("ev-2", f"ev-2~{new_session_token()}", "u-1", ms)
        fields = flatjson.read_flat(payload, STRINGS, STAMPS)
        parsed = from_json(payload, events_pb2.QueueJoined())
        assert fields is not None
        assert fields["joined_at"] == fields["timestamp"] == parsed.joined_at.ToMilliseconds()
        assert {n: fields[n] for n in STRINGS} == {n: getattr(parsed, n) for n in STRINGS}


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"[]",
        b"not json",
        b'{"event_id": "e"}',  # fields missing
        b'{"eventId": "e", "joined_at": "1970-01-01T00:00:00Z", "message_id": "m", '
        b'"session_id": "s", "timestamp": "1970-01-01T00:00:00Z", "user_id": "u"}',  # camelCase
        b'{"event_id": "e", "joined_at": "1970-01-01T00:00:00.5Z", "message_id": "m", '
        b'"session_id": "s", "timestamp": "1970-01-01T00:00:00Z", "user_id": "u"}',  # 500 ms
        b'{"event_id": "e", "joined_at": "1970-01-01T00:00:60Z", "message_id": "m", '
        b'"session_id": "s", "timestamp": "1970-01-01T00:00:00Z", "user_id": "u"}',  # no time
        b'{"event_id": "e", "event_id": "f", "message_id": "m", "session_id": "s", '
        b'"timestamp": "1970-01-01T00:00:00Z", "user_id": "u"}',  # a key twice
        b'{"event_id": 1, "joined_at": "1970-01-01T00:00:00Z", "message_id": "m", '
        b'"session_id": "s", "timestamp": "1970-01-01T00:00:00Z", "user_id": "u"}',  # a number
        '{"event_id": "é", "joined_at": "1970-01-01T00:00:00Z", "message_id": "m", '
        '"session_id": "s", "timestamp": "1970-01-01T00:00:00Z", "user_id": "u"}'.encode(),
    ],
)
def test_stats_reading_leaves_anything_else_to_protojson(payload: bytes):
    assert flatjson.read_flat(payload, STRINGS, STAMPS) is None


def reference_seal(key: bytes, token: str, place: int) -> str:
    encryptor = Cipher(algorithms.AES(key[:16]), modes.ECB()).encryptor()
    sealed = encryptor.update(place.to_bytes(8, "big") + _check(token)) + encryptor.finalize()
    return base64.urlsafe_b64encode(sealed).rstrip(b"=").decode()


def test_one_seal_context_seals_and_opens_as_a_fresh_one_each_time_would():
    key, rng = bytes(range(32)), random.Random(3)
    seal = PlaceSeal(key)
    for _ in range(200):
        token, place = new_session_token(), rng.randrange(2**63)
        sealed = seal.seal(token, place)
        assert sealed == reference_seal(key, token, place)
        assert seal.open(token, "garbage!") is None  # refused garbage leaves nothing behind
        assert seal.open(new_session_token(), sealed) is None
        assert seal.open(token, sealed) == place


def reference_change(payload: bytes) -> object:
    """What stats made of a QUEUE_JOINED before its fast path: parsed, then checked."""
    try:
        joined = parse(payload, events_pb2.QueueJoined())
        return _session(ChangeKind.JOINED, joined, joined.joined_at)
    except PoisonMessageError as error:
        return PoisonMessageError, str(error)


def change_or_poison(payload: bytes) -> object:
    try:
        return change_of(topics.QUEUE_JOINED, payload)
    except PoisonMessageError as error:
        return PoisonMessageError, str(error)


@pytest.mark.parametrize(
    ("event_id", "session_id", "user_id"),
    [
        ("ev-3", f"ev-3~{new_session_token()}", "u-1"),
        ("ev-3", f"ev-3~{new_session_token()}.{PlaceSeal(b'k' * 16).seal('t', 9)}", "u-1"),
        ("ev-3", f"ev-4~{new_session_token()}", "u-1"),  # another event's session
        ("ev-3", "ev-3~short", "u-1"),  # not a session id
        ("ev 3", f"ev 3~{new_session_token()}", "u-1"),  # an invalid event id
        ("ev-3", f"ev-3~{new_session_token()}", "no spaces"),  # an invalid user id
    ],
)
def test_stats_makes_of_a_join_what_it_made_before(event_id: str, session_id: str, user_id: str):
    payload = reference_joined(event_id, session_id, user_id, 1_764_650_000_123)
    assert flatjson.read_flat(payload, STRINGS, STAMPS) is not None  # the fast path reads it
    assert change_or_poison(payload) == reference_change(payload)
