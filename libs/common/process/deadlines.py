"""Load shedding by deadline: a call that cannot be answered in time costs next to nothing.

A call whose deadline has passed, or is too near to meet, is refused with DEADLINE_EXCEEDED
before the service sees it: under overload the servers then do less work, not work that
nobody waits for. A call with time left runs until `margin` before its deadline; work not
done by then (Redis failing over, say) ends UNAVAILABLE with a retry hint, so the caller
hears something before it gives up. A call without a deadline runs as long as it takes.

The margin covers the answer's way back and the server's later view of the deadline: gRPC
sends a timeout, not a deadline, so the server's clock starts when the call arrives (on
loopback its view is some 10 ms later than the caller's).
"""

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter

from common.process.settings import CommonSettings

# The trailing metadata key of the hint sent with UNAVAILABLE, in milliseconds.
RETRY_AFTER_KEY = "retry-after-ms"
RETRY_AFTER_MS = 200
RETRY_HINT = ((RETRY_AFTER_KEY, str(RETRY_AFTER_MS)),)
TOO_SHORT, SPENT = "deadline_too_short", "deadline_spent"


@dataclass(frozen=True, slots=True)
class DeadlineRule:
    minimum: float  # seconds: a call that would have less time than this to work is refused
    margin: float  # seconds: the work ends this long before the caller's deadline

    def __post_init__(self) -> None:
        if self.minimum < 0 or self.margin < 0:
            raise ValueError("the minimum deadline and the deadline margin cannot be negative")

    def refuses(self, remaining: float | None) -> bool:
        """Whether a call with `remaining` seconds left (None: no deadline) is refused."""
        return remaining is not None and remaining - self.margin < self.minimum

    def budget(self, remaining: float | None) -> float | None:
        """How long an accepted call may work; None: as long as it takes."""
        return None if remaining is None else remaining - self.margin


class Shedding:
    """The rule, and the calls it shed by method and reason (too short, or spent working)."""

    def __init__(self, rule: DeadlineRule, registry: CollectorRegistry, service: str) -> None:
        self.rule = rule
        self._shed = Counter(
            f"{service}_grpc_shed",
            "gRPC calls ended early for their deadline, by method and reason",
            ["method", "reason"],
            registry=registry,
        )

    def count(self, method: str, reason: str) -> None:
        self._shed.labels(method, reason).inc()


def shedding_for(settings: CommonSettings, registry: CollectorRegistry, service: str) -> Shedding:
    rule = DeadlineRule(
        settings.grpc_min_deadline.total_seconds(), settings.grpc_deadline_margin.total_seconds()
    )
    return Shedding(rule, registry, service)
