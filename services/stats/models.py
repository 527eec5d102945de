"""Stats' domain types: the changes the stream makes and the figures read back."""

from dataclasses import dataclass
from enum import StrEnum


class NotFoundError(Exception):
    """Stats has seen nothing of this event."""


class ChangeKind(StrEnum):
    """What a message did, in the words lua/apply.lua switches on."""

    UPDATED = "updated"
    SOLD_OUT = "sold_out"
    JOINED = "joined"
    READY = "ready"
    LEFT = "left"
    COMPLETED = "completed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class Outcome(StrEnum):
    """Where a session stands, as far as the stream has told."""

    QUEUED = "queued"
    ADMITTED = "admitted"
    COMPLETED = "completed"
    EXPIRED = "expired"
    SOLD_OUT = "sold_out"
    CANCELLED = "cancelled"
    LEFT = "left"


@dataclass(frozen=True, slots=True)
class Change:
    """One event from the stream, reduced to what the statistics need."""

    kind: ChangeKind
    event_id: str
    session_id: str = ""
    user_id: str = ""
    at_ms: int = 0
    value: int = 0  # tickets bought (completed) or the settings' version (updated)
    reason: str = ""
    tickets: int = 0  # the event's ticket total (updated)


@dataclass(frozen=True, slots=True)
class Counts:
    """How many sessions the stream has told of, by what happened to them."""

    joined: int = 0
    admitted: int = 0
    completed: int = 0
    expired: int = 0
    cancelled: int = 0
    left: int = 0


@dataclass(frozen=True, slots=True)
class RawFigures:
    """The counts and timings as stored, before anything is derived from them."""

    counts: Counts
    tickets_total: int
    tickets_sold: int
    sold_out: bool
    waits_ms: tuple[float, float, float]
    checkout_ms: tuple[float, float, float]
    admitted_last_minute: int


@dataclass(frozen=True, slots=True)
class SessionFacts:
    session_id: str
    outcome: Outcome
    joined_at_ms: int
    admitted_at_ms: int
    ended_at_ms: int
    tickets: int


@dataclass(frozen=True, slots=True)
class EventFigures:
    event_id: str
    joined: int
    queued_now: int
    admitted: int
    in_checkout_now: int
    completed: int
    expired: int
    cancelled: int
    left: int
    sold_out: bool
    sold_out_in_line: int
    tickets_total: int
    tickets_sold: int
    tickets_left: int
    conversion_rate: float
    wait_seconds: tuple[float, float, float]
    checkout_seconds: tuple[float, float, float]
    admission_rate_per_second: float
    estimated_clear_seconds: int
