"""The waitroom's rules: joining, status and wait estimates, leaving, and managing events."""

import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

from common.tokens.ids import make_session_id, new_session_token, parse_session_id, validate_id
from common.tokens.signing import CheckoutClaims
from waitroom.models import (
    AlreadyExistsError,
    EventAction,
    EventChange,
    EventConfig,
    EventState,
    EventView,
    FailedPreconditionError,
    JoinOutcome,
    NotFoundError,
    SessionRecord,
    Status,
)

MAX_TICKETS = 10_000_000
MAX_CHECKOUT_TTL_SECONDS = 24 * 3600
MAX_CONCURRENT_LIMIT = 1_000_000


class Store(Protocol):
    async def join(
        self, event_id: str, user_id: str, token: str, now_ms: int, ttl_s: int, lottery: float
    ) -> JoinOutcome | str: ...

    async def session(
        self, event_id: str, token: str, now_ms: int, ttl_s: int
    ) -> SessionRecord | None: ...

    async def leave(self, event_id: str, token: str, now_ms: int, ttl_s: int) -> str: ...

    async def create_event(self, config: EventConfig, now_ms: int) -> bool: ...

    async def update_event(
        self, event_id: str, now_ms: int, action: str, changes: dict[str, int]
    ) -> str: ...

    async def get_event(self, event_id: str) -> EventView | None: ...

    async def event_ids(self) -> list[str]: ...


class Signer(Protocol):
    def sign(self, claims: CheckoutClaims) -> str: ...


@dataclass(frozen=True, slots=True)
class Defaults:
    max_concurrent: int
    batch_size: int
    checkout_ttl_seconds: int
    session_ttl_seconds: int
    process_interval_seconds: float


@dataclass(frozen=True, slots=True)
class Joined:
    session_id: str
    status: Status
    position: int
    queue_length: int


@dataclass(frozen=True, slots=True)
class QueueStatus:
    event_id: str
    status: Status
    position: int
    queue_length: int
    estimated_wait_seconds: int
    checkout_token: str
    checkout_expires_at_ms: int
    opens_at_ms: int


def _state_error(event_id: str, state: str) -> Exception:
    if state == "not_found":
        return NotFoundError(f"event {event_id!r} does not exist")
    return FailedPreconditionError(f"event {event_id!r} is {state} and takes no one in line")


def _ignore(event_id: str) -> None:
    return None


class QueueService:
    def __init__(
        self,
        store: Store,
        signer: Signer,
        defaults: Defaults,
        clock_ms: Callable[[], int],
        outbox_written: Callable[[str], None] = _ignore,
    ):
        """outbox_written(event_id): told after a change that may have written to the outbox."""
        self._store = store
        self._signer = signer
        self._defaults = defaults
        self._now = clock_ms
        self._outbox_written = outbox_written

    async def join(self, user_id: str, event_id: str) -> Joined:
        validate_id("user_id", user_id)
        validate_id("event_id", event_id)
        lottery = secrets.randbits(52) / 2**52  # in [0, 1): below every join sequence
        outcome = await self._store.join(
            event_id,
            user_id,
            new_session_token(),
            self._now(),
            self._defaults.session_ttl_seconds,
            lottery,
        )
        if isinstance(outcome, str):
            raise _state_error(event_id, outcome)
        self._outbox_written(event_id)
        return Joined(
            session_id=make_session_id(event_id, outcome.token),
            status=outcome.status,
            position=self._position(outcome.rank, outcome.opens_at_ms),
            queue_length=outcome.queue_length,
        )

    async def status(self, session_id: str) -> QueueStatus:
        event_id, token = parse_session_id(session_id)
        now = self._now()
        record = await self._store.session(event_id, token, now, self._defaults.session_ttl_seconds)
        if record is None:
            raise NotFoundError("session not found (unknown, or expired after its TTL)")
        position = (
            self._position(record.rank, record.opens_at_ms) if record.status is Status.QUEUED else 0
        )
        token_value = ""
        if record.status is Status.ADMITTED:
            # Ed25519 is deterministic: the same claims give the token QUEUE_READY carried.
            token_value = self._signer.sign(
                claims_of(
                    session_id,
                    event_id,
                    record.user_id,
                    record.admitted_at_ms,
                    record.expires_at_ms,
                )
            )
        return QueueStatus(
            event_id=event_id,
            status=record.status,
            position=position,
            queue_length=record.queue_length,
            estimated_wait_seconds=self._estimate(position, record) if position else 0,
            checkout_token=token_value,
            checkout_expires_at_ms=record.expires_at_ms if token_value else 0,
            opens_at_ms=record.opens_at_ms,
        )

    async def leave(self, session_id: str) -> Status:
        event_id, token = parse_session_id(session_id)
        outcome = await self._store.leave(
            event_id, token, self._now(), self._defaults.session_ttl_seconds
        )
        if outcome == "not_found":
            raise NotFoundError("session not found")
        self._outbox_written(event_id)
        status = Status(outcome)
        if status is Status.ADMITTED:
            raise FailedPreconditionError("session is admitted: cancel the checkout instead")
        return status

    def _position(self, rank: int | None, opens_at_ms: int) -> int:
        # Before opening the lottery order is secret: no place in line is shown.
        if rank is None or self._now() < opens_at_ms:
            return 0
        return rank + 1

    def _estimate(self, position: int, record: SessionRecord) -> int:
        """Seconds until admission at the rate measured over the last minute."""
        if record.recent_admissions and record.rate_window_ms:
            rate = record.recent_admissions / (record.rate_window_ms / 1000)
        else:  # nothing measured yet: one batch per processing interval
            rate = max(record.batch_size, 1) / self._defaults.process_interval_seconds
        wait = position / rate
        until_open = max(0, record.opens_at_ms - self._now()) / 1000
        return math.ceil(wait + until_open)


def claims_of(
    session_id: str, event_id: str, user_id: str, admitted_at_ms: int, expires_at_ms: int
) -> CheckoutClaims:
    return CheckoutClaims(
        session_id=session_id,
        event_id=event_id,
        user_id=user_id,
        issued_at=admitted_at_ms // 1000,
        # rounded up: a token never runs out before its hold (the hold's deadline decides)
        expires_at=-(-expires_at_ms // 1000),
    )


def _either(new: int | None, current: int) -> int:
    return current if new is None else new


def _check_limits(config: EventConfig) -> None:
    if not 1 <= config.max_concurrent <= MAX_CONCURRENT_LIMIT:
        raise ValueError(f"max_concurrent must be between 1 and {MAX_CONCURRENT_LIMIT}")
    if not 1 <= config.batch_size <= config.max_concurrent:
        raise ValueError("batch_size must be between 1 and max_concurrent")
    if not 1 <= config.checkout_ttl_seconds <= MAX_CHECKOUT_TTL_SECONDS:
        raise ValueError(f"checkout_ttl_seconds must be between 1 and {MAX_CHECKOUT_TTL_SECONDS}")
    if not 0 <= config.tickets <= MAX_TICKETS:
        raise ValueError(f"tickets must be between 0 and {MAX_TICKETS}")


class EventAdmin:
    def __init__(
        self,
        store: Store,
        defaults: Defaults,
        clock_ms: Callable[[], int],
        may_admit: Callable[[], None] = lambda: None,
    ) -> None:
        """may_admit(): told when a change may let people in now (an opening, a resume)."""
        self._store = store
        self._defaults = defaults
        self._now = clock_ms
        self._may_admit = may_admit

    async def create(self, request: EventConfig) -> EventView:
        validate_id("event_id", request.event_id)
        config = replace(
            request,
            max_concurrent=request.max_concurrent or self._defaults.max_concurrent,
            batch_size=request.batch_size
            or min(
                self._defaults.batch_size, request.max_concurrent or self._defaults.max_concurrent
            ),
            checkout_ttl_seconds=request.checkout_ttl_seconds
            or self._defaults.checkout_ttl_seconds,
            opens_at_ms=request.opens_at_ms or self._now(),
            state=EventState.OPEN,
        )
        _check_limits(config)
        if not await self._store.create_event(config, self._now()):
            raise AlreadyExistsError(f"event {config.event_id!r} exists already")
        return await self.get(config.event_id)

    async def update(self, event_id: str, change: EventChange) -> EventView:
        current = (await self.get(event_id)).config
        _check_limits(
            replace(
                current,
                max_concurrent=_either(change.max_concurrent, current.max_concurrent),
                batch_size=_either(change.batch_size, current.batch_size),
                checkout_ttl_seconds=_either(
                    change.checkout_ttl_seconds, current.checkout_ttl_seconds
                ),
                tickets=_either(change.tickets, current.tickets),
            )
        )
        fields = {
            "max_concurrent": change.max_concurrent,
            "batch_size": change.batch_size,
            "checkout_ttl": change.checkout_ttl_seconds,
            "opens_at": change.opens_at_ms,
            "tickets": change.tickets,
        }
        changes = {name: value for name, value in fields.items() if value is not None}
        if change.action is EventAction.RESUME and current.state is not EventState.PAUSED:
            raise FailedPreconditionError(f"event {event_id!r} is {current.state}, not paused")
        outcome = await self._store.update_event(
            event_id, self._now(), change.action.value if change.action else "", changes
        )
        if outcome == "not_found":
            raise NotFoundError(f"event {event_id!r} does not exist")
        if outcome == "closed":
            raise FailedPreconditionError(f"event {event_id!r} is closed; it cannot change")
        if outcome == "already_open":
            raise FailedPreconditionError("opens_at cannot change once the event has opened")
        opens_now = change.opens_at_ms is not None and change.opens_at_ms <= self._now()
        if opens_now or change.action is EventAction.RESUME:
            self._may_admit()
        return await self.get(event_id)

    async def get(self, event_id: str) -> EventView:
        validate_id("event_id", event_id)
        view = await self._store.get_event(event_id)
        if view is None:
            raise NotFoundError(f"event {event_id!r} does not exist")
        return view

    async def list(self) -> list[EventView]:
        views = [
            await self._store.get_event(event_id) for event_id in await self._store.event_ids()
        ]
        return [view for view in views if view is not None]
