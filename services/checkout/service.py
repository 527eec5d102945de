"""Checkout's rules: a token opens its hold; purchase and cancel act on it exactly once."""

import uuid
from collections.abc import Callable
from typing import Protocol

from checkout.models import (
    Admission,
    Applied,
    CatchingUpError,
    EventSettings,
    FailedPreconditionError,
    Hold,
    Holder,
    HoldStatus,
    InvalidAdmissionError,
    Order,
    PermissionDeniedError,
    Refusal,
    UnauthenticatedError,
    UnknownEventError,
)
from common.tokens.ids import (
    MAX_ID_LENGTH,
    InvalidIdError,
    parse_sealed_session_id,
)
from common.tokens.signing import CheckoutClaims, InvalidTokenError

MAX_TOKEN_LENGTH = 4096


class Store(Protocol):
    async def configure(
        self, settings: EventSettings, message_id: str, per_hold: int, now_ms: int
    ) -> Applied: ...

    async def hold(self, holder: Holder, per_hold: int, now_ms: int) -> Hold: ...

    async def hold_once(
        self, holder: Holder, per_hold: int, now_ms: int, message_id: str
    ) -> bool: ...

    async def purchase(
        self, holder: Holder, quantity: int, payment_reference: str, order_id: str, now_ms: int
    ) -> Order | Refusal: ...

    async def cancel(self, holder: Holder, now_ms: int) -> HoldStatus | None: ...


class Verifier(Protocol):
    async def verify(self, token: str, allow_expired: bool = False) -> CheckoutClaims: ...


class CheckoutService:
    def __init__(
        self, store: Store, verifier: Verifier, per_hold: int, clock_ms: Callable[[], int]
    ) -> None:
        self._store = store
        self._verifier = verifier
        self._per_hold = per_hold
        self._now = clock_ms

    async def configure(self, settings: EventSettings, message_id: str) -> Applied:
        return await self._store.configure(settings, message_id, self._per_hold, self._now())

    async def admit(self, admission: Admission, message_id: str) -> None:
        """A QUEUE_READY makes its hold once; consumed late, the hold is born expired and the
        slot is freed. UnknownEventError until the event's settings arrive."""
        holder = await self._admission_holder(admission)
        await self._store.hold_once(holder, self._per_hold, self._now(), message_id)

    async def get(self, checkout_token: str) -> Hold:
        return await self._hold(await self._holder(checkout_token))

    async def purchase(self, checkout_token: str, quantity: int, payment_reference: str) -> Order:
        if not payment_reference or len(payment_reference) > MAX_ID_LENGTH:
            raise ValueError(f"payment_reference is required, at most {MAX_ID_LENGTH} characters")
        if quantity < 1:
            raise ValueError("quantity must be at least 1")
        holder = await self._holder(checkout_token)
        hold = await self._hold(holder)
        order_id = str(uuid.uuid4())
        outcome = await self._store.purchase(
            holder, quantity, payment_reference, order_id, self._now()
        )
        if isinstance(outcome, Order):
            return outcome
        raise _refused(outcome, hold)

    async def cancel(self, checkout_token: str) -> Hold:
        holder = await self._holder(checkout_token)
        await self._hold(holder)
        outcome = await self._store.cancel(holder, self._now())
        if outcome is HoldStatus.COMPLETED:
            raise FailedPreconditionError("the purchase is complete; it cannot be cancelled")
        return await self._hold(holder)

    async def _holder(self, checkout_token: str) -> Holder:
        """Whom a buyer's checkout token is for; it must be valid and bound to its event."""
        if not checkout_token or len(checkout_token) > MAX_TOKEN_LENGTH:
            raise UnauthenticatedError("a checkout token is required")
        try:
            claims = await self._verifier.verify(checkout_token)
            event_id, token, seal = parse_sealed_session_id(claims.session_id)
        except (InvalidTokenError, InvalidIdError) as error:
            raise UnauthenticatedError(f"invalid checkout token: {error}") from error
        if event_id != claims.event_id:
            raise PermissionDeniedError("the token's session belongs to another event")
        return _holder(claims, token, seal)

    async def _admission_holder(self, admission: Admission) -> Holder:
        """Whom the admission's token is for, which must be the admission's session and user."""
        try:
            claims = await self._verifier.verify(admission.checkout_token, allow_expired=True)
            event_id, token, seal = parse_sealed_session_id(admission.session_id)
        except (InvalidTokenError, InvalidIdError) as error:
            raise InvalidAdmissionError(
                f"QUEUE_READY with a bad token or session: {error}"
            ) from error
        named = (claims.session_id, claims.event_id, claims.user_id)
        sent = (admission.session_id, admission.event_id, admission.user_id)
        if named != sent or event_id != admission.event_id:
            raise InvalidAdmissionError("QUEUE_READY does not match its checkout token")
        return _holder(claims, token, seal)

    async def _hold(self, holder: Holder) -> Hold:
        """The session's hold; a valid token seen before its QUEUE_READY creates it."""
        try:
            return await self._store.hold(holder, self._per_hold, self._now())
        except UnknownEventError as error:  # a validly signed token names a real event
            raise CatchingUpError(
                f"checkout has not yet received event {holder.event_id!r}; retry"
            ) from error


def _holder(claims: CheckoutClaims, token: str, seal: str) -> Holder:
    return Holder(claims.event_id, token, claims.user_id, claims.expires_at * 1000, seal)


def _refused(refusal: Refusal, hold: Hold) -> Exception:
    """The error a refused purchase ends in, worded for the buyer."""
    if refusal is Refusal.USED:
        return PermissionDeniedError("this checkout token has already completed a purchase")
    if refusal is Refusal.TOO_MANY and hold.quantity == 0:
        return FailedPreconditionError(
            "no ticket is free for this hold yet: every ticket is held by others; tickets "
            "that come back are given to waiting holds in order until the hold expires"
        )
    if refusal is Refusal.TOO_MANY:
        return ValueError(f"quantity must be at most the {hold.quantity} tickets held")
    return FailedPreconditionError(f"the hold is {refusal.replace('_', ' ')}; nothing was sold")
