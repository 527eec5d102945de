"""Validation of the ids that clients send: users, events and sessions."""

import re
import secrets

MAX_ID_LENGTH = 128
ID_CHARSET = "letters, digits and _ . : @ - (starting with a letter or digit)"
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@-]*")
# The random part of a session id: 128 bits, base64url.
_SESSION_TOKEN = re.compile(r"[A-Za-z0-9_-]{22}")
SESSION_SEPARATOR = "~"
# A session id the waitroom hands out ends in ".<seal>": the person's place, sealed
# (common.tokens.seal), so that any serving process finds it without Redis. Ids without one
# still work (their status is read from Redis).
SEAL_SEPARATOR = "."
_SEAL = re.compile(r"[A-Za-z0-9_-]{22}")


class InvalidIdError(ValueError):
    """An id a client sent is empty, too long or has characters outside the charset."""


def validate_id(kind: str, value: str) -> str:
    if not value:
        raise InvalidIdError(f"{kind} is required")
    if len(value) > MAX_ID_LENGTH:
        raise InvalidIdError(f"{kind} is longer than {MAX_ID_LENGTH} characters")
    if not _ID.fullmatch(value):
        raise InvalidIdError(f"{kind} may contain only {ID_CHARSET}")
    return value


def new_session_token() -> str:
    return secrets.token_urlsafe(16)


def make_session_id(event_id: str, token: str, seal: str = "") -> str:
    """A session id names its event, so the server finds it without a scan."""
    sealed = f"{SEAL_SEPARATOR}{seal}" if seal else ""
    return f"{event_id}{SESSION_SEPARATOR}{token}{sealed}"


def parse_session_id(session_id: str) -> tuple[str, str]:
    """Splits a session id into (event_id, token), or raises InvalidIdError."""
    event_id, token, _ = parse_sealed_session_id(session_id)
    return event_id, token


def parse_sealed_session_id(session_id: str) -> tuple[str, str, str]:
    """Splits a session id into (event_id, token, seal), the seal "" when it has none."""
    if not session_id:
        raise InvalidIdError("session_id is required")
    event_id, separator, rest = session_id.rpartition(SESSION_SEPARATOR)
    token, _, seal = rest.partition(SEAL_SEPARATOR)
    malformed = not _SESSION_TOKEN.fullmatch(token) or (
        SEAL_SEPARATOR in rest and not _SEAL.fullmatch(seal)
    )
    if not separator or malformed:
        raise InvalidIdError("session_id is malformed: use the id JoinQueue returned")
    validate_id("session_id's event", event_id)
    return event_id, token, seal
