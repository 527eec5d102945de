"""The audit trail: every operator action, who took it, when, what it was and why.

Each action is one entry in a Redis stream: `waitroom:audit` holds every event's, and
`waitroom:audit:{E}` one event's (so that an event's trail reads without a scan). Neither
is an event key (`waitroom:{E}:...`), so deleting an event's data keeps its trail. Both are
capped at MAX_ENTRIES, the oldest trimmed first.

Who: the admin token is one shared secret, so the caller names themselves in the
`x-operator` metadata (else "admin"); the entry also keeps the caller's address. Why: the
request's own reason where it has one (RevokeSession), else the `x-reason` metadata.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from redis.exceptions import ResponseError

from common.redis.client import RedisClient
from common.tokens.ids import MAX_ID_LENGTH, validate_id

MAX_ENTRIES = 100_000
MAX_LISTED = 1_000
MAX_REASON_LENGTH = 500
MAX_DETAIL_LENGTH = 4_000
ALL_EVENTS = "waitroom:audit"


def event_trail(event_id: str) -> str:
    return f"waitroom:audit:{{{event_id}}}"


@dataclass(frozen=True, slots=True)
class Operator:
    """Who asked: the name they gave and where the call came from."""

    name: str
    peer: str


@dataclass(frozen=True, slots=True)
class AuditEntry:
    entry_id: str  # the stream id: its first part is when, in ms
    at_ms: int
    operator: Operator
    action: str
    event_id: str
    detail: str  # JSON of what was asked
    reason: str


def operator_of(metadata: Mapping[str, Any], peer: str) -> Operator:
    """The `x-operator` a caller sent (cut to an id's length), else "admin"."""
    name = str(metadata.get("x-operator", "") or "admin")[:MAX_ID_LENGTH]
    return Operator(name=name, peer=peer)


def reason_of(metadata: Mapping[str, Any], given: str = "") -> str:
    return (given or str(metadata.get("x-reason", "")))[:MAX_REASON_LENGTH]


def _entry(entry_id: str, fields: Mapping[str, str]) -> AuditEntry:
    return AuditEntry(
        entry_id=entry_id,
        at_ms=int(entry_id.split("-")[0]),
        operator=Operator(name=fields.get("operator", ""), peer=fields.get("peer", "")),
        action=fields.get("action", ""),
        event_id=fields.get("event_id", ""),
        detail=fields.get("detail", ""),
        reason=fields.get("reason", ""),
    )


class AuditTrail:
    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis  # the stream ids say when: Redis's clock, one for every replica

    async def record(
        self,
        operator: Operator,
        action: str,
        event_id: str,
        detail: Mapping[str, Any],
        reason: str = "",
    ) -> None:
        """One entry in both streams, after the action took effect. detail: what was asked
        (never a secret: no codes, no tokens)."""
        fields = {
            "operator": operator.name,
            "peer": operator.peer,
            "action": action,
            "event_id": event_id,
            "detail": json.dumps(dict(detail), sort_keys=True, default=str)[:MAX_DETAIL_LENGTH],
            "reason": reason,
        }
        keys = (ALL_EVENTS, event_trail(event_id)) if event_id else (ALL_EVENTS,)
        pipe = self._redis.pipeline(transaction=False)
        for key in keys:
            pipe.xadd(key, fields, maxlen=MAX_ENTRIES, approximate=True)  # type: ignore[arg-type]
        await pipe.execute()

    async def entries(
        self, event_id: str = "", limit: int = 100, before: str = ""
    ) -> list[AuditEntry]:
        """The newest first, at most `limit` (up to MAX_LISTED), older than the entry id
        `before` when given (the last id of the previous page)."""
        limit = max(1, min(limit or 100, MAX_LISTED))
        if event_id:
            validate_id("event_id", event_id)
        key = event_trail(event_id) if event_id else ALL_EVENTS
        newest = f"({before}" if before else "+"
        try:
            rows: list[tuple[str, dict[str, str]]] = await self._redis.xrevrange(  # type: ignore[assignment]
                key, newest, "-", count=limit
            )
        except ResponseError as error:  # a malformed `before`
            raise ValueError(f"before must be an entry id from an earlier page: {error}") from error
        return [_entry(entry_id, fields) for entry_id, fields in rows]
