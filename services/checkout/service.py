"""Checkout's rules: a token opens its hold; purchase and cancel act on it exactly once."""

import uuid
from collections.abc import Callable
from typing import Protocol

from checkout.models import (
    CatchingUpError,
    FailedPreconditionError,
    Hold,
    HoldStatus,
    Order,
    PermissionDeniedError,
    UnauthenticatedError,
)
from common.tokens.ids import MAX_ID_LENGTH, InvalidIdError, parse_session_id
from common.tokens.signing import CheckoutClaims, InvalidTokenError

MAX_TOKEN_LENGTH = 4096


class Store(Protocol):
    async def hold(
        self,
        event_id: str,
        token: str,
        user_id: str,
        expires_at_ms: int,
        per_hold: int,
        now_ms: int,
        message_id: str = "",
    ) -> tuple[str, Hold | None]: ...

    async def purchase(
        self,
        event_id: str,
        token: str,
        quantity: int,
        payment_reference: str,
        order_id: str,
        now_ms: int,
    ) -> Order | str: ...

    async def cancel(self, event_id: str, token: str, now_ms: int) -> str: ...


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

    async def get(self, checkout_token: str) -> Hold:
        claims, token = await self._claims(checkout_token)
        return await self._hold(claims, token)

    async def purchase(self, checkout_token: str, quantity: int, payment_reference: str) -> Order:
        if not payment_reference or len(payment_reference) > MAX_ID_LENGTH:
            raise ValueError(f"payment_reference is required, at most {MAX_ID_LENGTH} characters")
        if quantity < 1:
            raise ValueError("quantity must be at least 1")
        claims, token = await self._claims(checkout_token)
        hold = await self._hold(claims, token)
        outcome = await self._store.purchase(
            claims.event_id, token, quantity, payment_reference, str(uuid.uuid4()), self._now()
        )
        if isinstance(outcome, Order):
            return outcome
        if outcome == "used":
            raise PermissionDeniedError("this checkout token has already completed a purchase")
        if outcome == "too_many" and hold.quantity == 0:
            raise FailedPreconditionError(
                "no ticket is free for this hold yet: every ticket is held by others; tickets "
                "that come back are given to waiting holds in order until the hold expires"
            )
        if outcome == "too_many":
            raise ValueError(f"quantity must be at most the {hold.quantity} tickets held")
        raise FailedPreconditionError(f"the hold is {outcome.replace('_', ' ')}; nothing was sold")

    async def cancel(self, checkout_token: str) -> Hold:
        claims, token = await self._claims(checkout_token)
        await self._hold(claims, token)
        outcome = await self._store.cancel(claims.event_id, token, self._now())
        if outcome == HoldStatus.COMPLETED:
            raise FailedPreconditionError("the purchase is complete; it cannot be cancelled")
        return await self._hold(claims, token)

    async def _claims(self, checkout_token: str) -> tuple[CheckoutClaims, str]:
        if not checkout_token or len(checkout_token) > MAX_TOKEN_LENGTH:
            raise UnauthenticatedError("a checkout token is required")
        try:
            claims = await self._verifier.verify(checkout_token)
            event_id, token = parse_session_id(claims.session_id)
        except (InvalidTokenError, InvalidIdError) as error:
            raise UnauthenticatedError(f"invalid checkout token: {error}") from error
        if event_id != claims.event_id:
            raise PermissionDeniedError("the token's session belongs to another event")
        return claims, token

    async def _hold(self, claims: CheckoutClaims, token: str) -> Hold:
        """The session's hold; a valid token seen before its QUEUE_READY creates it."""
        _, hold = await self._store.hold(
            claims.event_id,
            token,
            claims.user_id,
            claims.expires_at * 1000,
            self._per_hold,
            self._now(),
        )
        if hold is None:  # a validly signed token names a real event: checkout lags behind
            raise CatchingUpError(f"checkout has not yet received event {claims.event_id!r}; retry")
        return hold
