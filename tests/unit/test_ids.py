import pytest

from common.tokens.ids import (
    InvalidIdError,
    make_session_id,
    new_session_token,
    parse_session_id,
    validate_id,
)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "required"),
        ("x" * 129, "longer than 128"),
        ("a b", "may contain only"),
        ("{tag}", "may contain only"),
        ("-leading", "may contain only"),
        ("é", "may contain only"),
    ],
)
def test_bad_ids_are_refused_with_a_reason(value, reason):
    with pytest.raises(InvalidIdError, match=reason):
        validate_id("user_id", value)


def test_ids_up_to_128_characters_from_the_charset_are_accepted():
    assert validate_id("user_id", "a" * 128) == "a" * 128
    assert validate_id("user_id", "alice@example.com") == "alice@example.com"
    assert validate_id("event_id", "concert-2024:night_1") == "concert-2024:night_1"


def test_a_session_id_names_its_event():
    token = new_session_token()
    assert parse_session_id(make_session_id("concert-2024", token)) == ("concert-2024", token)


@pytest.mark.parametrize(
    "session_id", ["", "no-separator", "concert~short", "~" + "A" * 22, "bad event~" + "A" * 22]
)
def test_malformed_session_ids_are_refused(session_id):
    with pytest.raises(InvalidIdError):
        parse_session_id(session_id)


def test_session_tokens_are_unguessable_and_distinct():
    tokens = {new_session_token() for _ in range(1000)}
    assert len(tokens) == 1000
    assert all(len(t) == 22 for t in tokens)
