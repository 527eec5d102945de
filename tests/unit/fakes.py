"""Fakes for unit tests of pure logic; integration tests use the real Redis and Kafka."""

from dataclasses import dataclass, field

from checkout.models import Hold, Holder, HoldStatus, Order, Refusal, UnknownEventError
from common.kafka.outbox import OutboxEntry
from common.kafka.publisher import PublishError, Record
from common.tokens.signing import CheckoutClaims, InvalidTokenError
from waitroom.event_settings import Finish, refused
from waitroom.event_settings import Refusal as LineRefusal
from waitroom.models import (
    AdmissionResult,
    Defaults,
    JoinOutcome,
    NotFoundError,
    SessionRecord,
    Status,
)

DEFAULTS = Defaults(
    max_concurrent=100,
    batch_size=10,
    checkout_ttl_seconds=900,
    session_ttl_seconds=7200,
    process_interval_seconds=1.0,
)


@dataclass
class FakeQueueStore:
    """Just enough of the repository for the service's rules."""

    opens_at_ms: int = 0
    state: str = "open"
    sessions: dict[str, SessionRecord] = field(default_factory=dict)
    joins: list[tuple[str, str, float]] = field(default_factory=list)

    async def join(self, event_id, user_id, token, now_ms, ttl_s, lottery):
        if self.state != "open":
            raise refused(event_id, LineRefusal(self.state), joining=True)
        self.joins.append((user_id, token, lottery))
        return JoinOutcome(
            token, Status.QUEUED, len(self.joins) - 1, len(self.joins), self.opens_at_ms
        )

    async def session(self, event_id, token, now_ms, ttl_s, touch=True):
        return self.sessions.get(token)

    async def leave(self, event_id, token, now_ms, ttl_s):
        record = self.sessions.get(token)
        if record is None:
            raise NotFoundError("session not found")
        return record.status


def record(status=Status.QUEUED, rank=9, recent=0, window=0, opens_at=0, batch=10):
    return SessionRecord(
        status=status,
        user_id="user1",
        admitted_at_ms=5_000,
        expires_at_ms=905_000,
        rank=rank,
        queue_length=100,
        opens_at_ms=opens_at,
        batch_size=batch,
        recent_admissions=recent,
        rate_window_ms=window,
    )


class FakeSigner:
    def __init__(self):
        self.signed = []

    def sign(self, claims):
        self.signed.append(claims)
        return f"token-for-{claims.session_id}"


@dataclass
class FakeOutcomeStore:
    finished: list[tuple[str, str, Status, str]] = field(default_factory=list)
    sold_out_events: list[str] = field(default_factory=list)

    async def finish(self, event_id, token, status, message_id, now_ms):
        self.finished.append((event_id, token, status, message_id))
        return Finish.APPLIED

    async def sold_out(self, event_id):
        self.sold_out_events.append(event_id)


@dataclass
class FakeSender:
    fail: bool = False
    sent: list[Record] = field(default_factory=list)

    async def publish(self, records):
        if self.fail:
            raise PublishError("broker down")
        self.sent.extend(records)


@dataclass
class FakeOutbox:
    entries: list[OutboxEntry]
    acked: list[str] = field(default_factory=list)
    claims: list[int | None] = field(default_factory=list)  # each read's claim_idle_ms

    async def read(self, stream, consumer, count, claim_idle_ms):
        self.claims.append(claim_idle_ms)
        return [e for e in self.entries if e.entry_id not in self.acked][:count]

    async def acknowledge(self, stream, entry_ids):
        self.acked.extend(entry_ids)


@dataclass
class FakeAdmissionStore:
    events: list[str]
    failing: set[str] = field(default_factory=set)
    calls: list[tuple[str, str]] = field(default_factory=list)

    async def event_ids(self):
        return self.events

    async def admit(self, event_id, cycle_id, now_ms, ttl_s, already=0, limit=1000):
        self.calls.append((event_id, cycle_id))
        if event_id in self.failing:
            raise ConnectionError("redis hiccup")
        return AdmissionResult(admitted=2, reaped=0, queue_length=5, processing=2)


@dataclass
class FakeVerifier:
    """Checkout's token check: a known token's claims, anything else refused."""

    claims: dict[str, CheckoutClaims] = field(default_factory=dict)

    async def verify(self, token, allow_expired=False):
        if token not in self.claims:
            raise InvalidTokenError("not a token this fake knows")
        return self.claims[token]


@dataclass
class FakeHoldStore:
    """Just enough of checkout's repository for the service's rules."""

    hold_status: HoldStatus = HoldStatus.HELD
    quantity: int = 2
    refusal: Refusal | None = None
    settings_known: bool = True
    holds_made: list[tuple[Holder, str]] = field(default_factory=list)

    async def hold(self, holder, per_hold, now_ms):
        if not self.settings_known:
            raise UnknownEventError(holder.event_id)
        return Hold(
            holder.session_id,
            holder.event_id,
            self.hold_status,
            self.quantity,
            holder.expires_at_ms,
        )

    async def hold_once(self, holder, per_hold, now_ms, message_id):
        if not self.settings_known:
            raise UnknownEventError(holder.event_id)
        self.holds_made.append((holder, message_id))
        return True

    async def purchase(self, holder, quantity, payment_reference, order_id, now_ms):
        return self.refusal or Order(order_id, quantity)


@dataclass
class FakeStatsStore:
    """Stats' repository as far as applying goes: it remembers each batch."""

    batches: list[list] = field(default_factory=list)
    known: list[str] = field(default_factory=list)

    async def apply(self, changes):
        self.batches.append(list(changes))

    async def event_ids(self):
        return list(self.known)
