"""Checkout's domain types, the outcomes its scripts reply with, and its errors."""

from dataclasses import dataclass
from enum import StrEnum

from common.tokens.ids import make_session_id


class HoldStatus(StrEnum):
    HELD = "held"
    COMPLETED = "completed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    SOLD_OUT = "sold_out"


class Refusal(StrEnum):
    """Why a purchase sold nothing."""

    USED = "used"  # the token completed a purchase with another payment reference
    TOO_MANY = "too_many"  # more tickets than the hold has (none while it still waits)
    NO_HOLD = "no_hold"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    SOLD_OUT = "sold_out"


class Applied(StrEnum):
    """What an EVENT_UPDATED did to checkout's settings."""

    APPLIED = "applied"
    STALE = "stale"  # an older version than the one stored
    DUPLICATE = "duplicate"  # this message was applied before


class OutboxKind(StrEnum):
    """What an outbox entry tells the other services."""

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
    """An event checkout has no settings for yet: a QUEUE_READY is retried, then dead-lettered."""


class InvalidAdmissionError(Exception):
    """A QUEUE_READY whose token is bad or names another session, event or user."""


@dataclass(frozen=True, slots=True)
class Hold:
    session_id: str
    event_id: str
    status: HoldStatus
    quantity: int
    expires_at_ms: int
    order_id: str = ""


@dataclass(frozen=True, slots=True)
class Holder:
    """Whom a hold is for, and until when: all of it from a verified checkout token."""

    event_id: str
    token: str  # the random part of the session id
    user_id: str
    expires_at_ms: int
    seal: str = ""  # the session id's sealed place (common.tokens.seal), "" for none

    @property
    def session_id(self) -> str:
        """The id the waitroom gave the person, which every CHECKOUT_* message carries."""
        return make_session_id(self.event_id, self.token, self.seal)


@dataclass(frozen=True, slots=True)
class Order:
    order_id: str
    quantity: int


@dataclass(frozen=True, slots=True)
class EventSettings:
    """What checkout keeps of an EVENT_UPDATED: the hold time comes with each token."""

    event_id: str
    tickets: int
    version: int


@dataclass(frozen=True, slots=True)
class Admission:
    """A QUEUE_READY: who was admitted, and the token that must say the same."""

    session_id: str
    event_id: str
    user_id: str
    checkout_token: str
