"""The waitroom's rules: joining, status and wait estimates, leaving, and checkout's outcomes."""

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from common.tokens.ids import (
    make_session_id,
    new_session_token,
    parse_session_id,
    validate_id,
)
from common.tokens.signing import CheckoutClaims
from waitroom.estimates import Rate, advice, estimate_wait
from waitroom.event_settings import Finish
from waitroom.models import (
    Defaults,
    EventState,
    FailedPreconditionError,
    JoinOutcome,
    NotFoundError,
    SessionRecord,
    Status,
)


class Store(Protocol):
    async def join(
        self, event_id: str, user_id: str, token: str, now_ms: int, ttl_s: int, lottery: float
    ) -> JoinOutcome: ...

    async def session(
        self, event_id: str, token: str, now_ms: int, ttl_s: int, touch: bool = True
    ) -> SessionRecord | None: ...

    async def leave(self, event_id: str, token: str, now_ms: int, ttl_s: int) -> Status: ...


class Signer(Protocol):
    def sign(self, claims: CheckoutClaims) -> str: ...


class Seal(Protocol):
    def seal(self, token: str, place: int) -> str: ...


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
    event_state: EventState = EventState.OPEN
    next_poll_after_seconds: int = 0


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
        left: Callable[[str], None] = _ignore,
        seal: Seal | None = None,
    ):
        """outbox_written(event_id): told after a change that may have written to the outbox;
        left(event_id): told after someone left the line; seal: seals the place of whoever
        joins into their session id, so that a status read finds it without Redis."""
        self._store = store
        self._signer = signer
        self._seal = seal
        self._defaults = defaults
        self._now = clock_ms
        self._outbox_written = outbox_written
        self._left = left

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
        self._outbox_written(event_id)
        return Joined(
            session_id=self.session_id(event_id, outcome.token, outcome.place),
            status=outcome.status,
            position=self._position(outcome.rank, outcome.opens_at_ms),
            queue_length=outcome.queue_length,
        )

    def session_id(self, event_id: str, token: str, place: int | None) -> str:
        """The id the person holds, and Kafka's messages and the checkout token carry: with
        the place sealed in it when it is known."""
        if self._seal is None or not place:
            return make_session_id(event_id, token)
        return make_session_id(event_id, token, self._seal.seal(token, place))

    async def status(self, session_id: str) -> QueueStatus:
        """The status, and the poll marks the person as still there."""
        event_id, record = await self.read(session_id, touch=True)
        return self.describe(session_id, event_id, record)

    async def read(self, session_id: str, touch: bool) -> tuple[str, SessionRecord]:
        """The session's event and record from the store; raises NotFoundError."""
        event_id, token = parse_session_id(session_id)
        ttl_s = self._defaults.session_ttl_seconds
        record = await self._store.session(event_id, token, self._now(), ttl_s, touch)
        if record is None:
            raise NotFoundError("session not found (unknown, or expired after its TTL)")
        return event_id, record

    def describe(self, session_id: str, event_id: str, record: SessionRecord) -> QueueStatus:
        """What the person is told of this record (a watcher's may be kept up in memory)."""
        position = (
            self._position(record.rank, record.opens_at_ms) if record.status is Status.QUEUED else 0
        )
        token_value = ""
        if record.status is Status.ADMITTED:
            # Ed25519 is deterministic: the same claims give the token QUEUE_READY carried.
            _, token = parse_session_id(session_id)
            claims = CheckoutClaims.for_hold(
                self.session_id(event_id, token, record.place) if record.place else session_id,
                event_id,
                record.user_id,
                record.admitted_at_ms,
                record.expires_at_ms,
            )
            token_value = self._signer.sign(claims)
        interval = self._defaults.process_interval_seconds
        rate = Rate(record.recent_admissions, record.rate_window_ms, record.batch_size, interval)
        wait = estimate_wait(position, rate, record.opens_at_ms - self._now())
        return QueueStatus(
            event_id=event_id,
            status=record.status,
            position=position,
            queue_length=record.queue_length,
            estimated_wait_seconds=wait,
            checkout_token=token_value,
            checkout_expires_at_ms=record.expires_at_ms if token_value else 0,
            opens_at_ms=record.opens_at_ms,
            event_state=record.state,
            next_poll_after_seconds=advice(wait, interval),
        )

    async def leave(self, session_id: str) -> Status:
        event_id, token = parse_session_id(session_id)
        status = await self._store.leave(
            event_id, token, self._now(), self._defaults.session_ttl_seconds
        )
        self._outbox_written(event_id)
        if status is Status.LEFT:
            self._left(event_id)
        if status is Status.ADMITTED:
            raise FailedPreconditionError("session is admitted: cancel the checkout instead")
        return status

    def _position(self, rank: int | None, opens_at_ms: int) -> int:
        # Before opening the lottery order is secret: no place in line is shown.
        if rank is None or self._now() < opens_at_ms:
            return 0
        return rank + 1


class OutcomeStore(Protocol):
    async def finish(
        self, event_id: str, token: str, status: Status, message_id: str, now_ms: int
    ) -> Finish: ...

    async def sold_out(self, event_id: str) -> None: ...


class CheckoutOutcomes:
    """What checkout tells the waitroom: a hold ended (its slot frees), or the tickets ran out."""

    def __init__(
        self,
        store: OutcomeStore,
        clock_ms: Callable[[], int],
        sold_out: Callable[[str], None] = _ignore,
    ) -> None:
        """sold_out(event_id): told once an event's line has been told it is sold out."""
        self._store = store
        self._now = clock_ms
        self._told_sold_out = sold_out

    async def completed(self, event_id: str, token: str, message_id: str) -> Finish:
        return await self._store.finish(event_id, token, Status.COMPLETED, message_id, self._now())

    async def cancelled(self, event_id: str, token: str, message_id: str) -> Finish:
        return await self._store.finish(event_id, token, Status.CANCELLED, message_id, self._now())

    async def expired(self, event_id: str, token: str, reason: str, message_id: str) -> Finish:
        """A hold that ended because the tickets ran out leaves its person sold out, not expired."""
        status = Status.SOLD_OUT if reason == "sold_out" else Status.EXPIRED
        return await self._store.finish(event_id, token, status, message_id, self._now())

    async def sold_out(self, event_id: str) -> None:
        await self._store.sold_out(event_id)
        self._told_sold_out(event_id)
