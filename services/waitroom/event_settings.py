"""An event's settings in Redis and on the wire: field names, units, and the scripts' replies."""

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from waitroom.models import (
    EventChange,
    EventConfig,
    EventState,
    FailedPreconditionError,
    NotFoundError,
)


@dataclass(frozen=True, slots=True)
class Setting:
    attribute: str  # of EventConfig and EventChange
    field: str  # of the config hash, as the Lua scripts read it
    unit: str


SETTINGS = (
    Setting("max_concurrent", "max_concurrent", "people"),
    Setting("batch_size", "batch_size", "people"),
    Setting("checkout_ttl_seconds", "checkout_ttl", "seconds"),
    Setting("opens_at_ms", "opens_at", "ms since the epoch"),
    Setting("tickets", "tickets", "tickets"),
    Setting("new_per_minute", "new_per_minute", "people in any 60 s window, 0 for no ceiling"),
)
# The config hash's other fields: kept by the scripts, read here.
STATE, VERSION, UPDATED_AT = "state", "version", "updated_at"  # updated_at: ms since the epoch
WAITING, ADMITTED_TOTAL, SOLD_OUT = "waiting", "admitted_total", "sold_out"


class Refusal(StrEnum):
    """Why a script changed nothing: its reply `{'refused', <refusal>}`."""

    NOT_FOUND = "not_found"
    PAUSED = "paused"
    CLOSED = "closed"
    SOLD_OUT = "sold_out"
    ALREADY_OPEN = "already_open"
    NOT_PAUSED = "not_paused"


class Finish(StrEnum):
    """finish.lua's reply: the outcome was applied, was a replay, or found the session ended."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"


_CHANGE_REFUSED = {
    Refusal.CLOSED: "is closed; it cannot change",
    Refusal.ALREADY_OPEN: "has opened: opens_at cannot change once the event has opened",
    Refusal.NOT_PAUSED: "is open, not paused",
}


def refused(event_id: str, refusal: Refusal, joining: bool = False) -> Exception:
    """The domain error a refusal stands for, to a join or to a change of the event."""
    if refusal is Refusal.NOT_FOUND:
        return NotFoundError(f"event {event_id!r} does not exist")
    if joining:
        shown = refusal.value.replace("_", " ")
        return FailedPreconditionError(f"event {event_id!r} is {shown} and takes no one in line")
    return FailedPreconditionError(f"event {event_id!r} {_CHANGE_REFUSED[refusal]}")


def number(value: Any, default: int = 0) -> int:
    return default if value is None or value == "" else int(float(value))


def to_fields(config: EventConfig) -> dict[str, str]:
    fields = {s.field: str(getattr(config, s.attribute)) for s in SETTINGS}
    return {**fields, STATE: config.state.value}


def change_fields(change: EventChange) -> dict[str, str]:
    """The settings a change sets; the others stay as they are."""
    values = {s.field: getattr(change, s.attribute) for s in SETTINGS}
    return {name: str(value) for name, value in values.items() if value is not None}


def from_fields(event_id: str, raw: dict[str, str]) -> EventConfig:
    return EventConfig(
        event_id=event_id,
        **{s.attribute: number(raw.get(s.field)) for s in SETTINGS},
        state=EventState(raw.get(STATE, EventState.OPEN.value)),
        version=number(raw.get(VERSION)),
    )


def flat(fields: dict[str, str]) -> list[str]:
    """A script's field/value arguments."""
    return [item for pair in fields.items() for item in pair]


def pairs(reply: list[Any]) -> dict[str, str]:
    """An HGETALL a script returned, flat, as a dict."""
    return dict(zip(reply[::2], reply[1::2], strict=True))


RATE_BUCKET_MS = 10_000  # admissions are counted per 10 s (lua/admit.lua's `admits`)
RATE_BUCKETS = 6


def recent_admissions(buckets: dict[str, str], now_ms: int) -> tuple[int, int]:
    """Admissions in the last minute and the span they were counted over (ms)."""
    current = now_ms // RATE_BUCKET_MS
    counted = {int(b): int(c) for b, c in buckets.items() if int(b) >= current - RATE_BUCKETS}
    if not counted:
        return 0, 0
    first = min(counted)
    span = now_ms - first * RATE_BUCKET_MS
    return sum(counted.values()), max(span, RATE_BUCKET_MS)
