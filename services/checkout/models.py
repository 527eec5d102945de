"""Checkout's domain types and errors."""

from dataclasses import dataclass
from enum import StrEnum


class HoldStatus(StrEnum):
    HELD = "held"
    COMPLETED = "completed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    SOLD_OUT = "sold_out"


class UnauthenticatedError(Exception):
    """The checkout token is forged, expired or malformed."""


class PermissionDeniedError(Exception):
    """A valid token used for something it does not allow (another purchase, another event)."""


class CatchingUpError(Exception):
    """Checkout has not yet consumed the settings of the token's event: retry shortly."""


class FailedPreconditionError(Exception):
    """The hold is no longer held (expired, cancelled, sold out)."""


class UnknownEventError(Exception):
    """A QUEUE_READY for an event checkout has no settings for yet: retried, then dead-lettered."""


@dataclass(frozen=True, slots=True)
class Hold:
    session_id: str
    event_id: str
    status: HoldStatus
    quantity: int
    expires_at_ms: int
    order_id: str = ""


@dataclass(frozen=True, slots=True)
class Order:
    order_id: str
    quantity: int


@dataclass(frozen=True, slots=True)
class EventSettings:
    event_id: str
    tickets: int
    checkout_ttl_seconds: int
    state: str
    version: int
