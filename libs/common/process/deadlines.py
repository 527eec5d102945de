"""Load shedding by deadline: a call that cannot be answered in time costs next to nothing.

A call whose deadline has passed, or is too near to meet (less time left than the method's
calls take lately, or than a minimum), is refused with DEADLINE_EXCEEDED before the service
sees it: under overload the servers then do less work, not work that nobody waits for. A
call with time left runs until `margin` before its deadline; work not done by then (Redis
failing over, say) ends UNAVAILABLE with a retry hint, so the caller hears something before
it gives up. A call without a deadline runs as long as it takes.

The margin covers the answer's way back and the server's later view of the deadline: gRPC
sends a timeout, not a deadline, so the server's clock starts when the call arrives (on
loopback its view is some 10 ms later than the caller's).
"""

import time
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

    def refuses(self, remaining: float | None, expected: float = 0.0) -> bool:
        """Whether a call with `remaining` seconds left (None: no deadline) is refused, when
        its method's calls take `expected` seconds lately."""
        needed = max(self.minimum, expected)
        return remaining is not None and remaining - self.margin < needed

    def budget(self, remaining: float | None) -> float | None:
        """How long an accepted call may work; None: as long as it takes."""
        return None if remaining is None else remaining - self.margin


class Pace:
    """How long a method's calls take lately: a moving average that fades while no call
    runs (halved every `half_life` seconds), so a spike is shed no longer than it lasts."""

    def __init__(self, half_life: float = 1.0, weight: float = 0.2) -> None:
        self._half_life, self._weight = half_life, weight
        self._mean, self._at = 0.0, 0.0

    def expected(self, now: float) -> float:
        fading: float = 0.5 ** ((now - self._at) / self._half_life)
        return self._mean * fading

    def observe(self, seconds: float, now: float) -> None:
        self._mean = (1 - self._weight) * self.expected(now) + self._weight * seconds
        self._at = now


class Shedding:
    """The rule, and the calls it shed by method and reason (too short, or spent working)."""

    def __init__(self, rule: DeadlineRule, registry: CollectorRegistry, service: str) -> None:
        self.rule = rule
        self._paces: dict[str, Pace] = {}
        self._shed = Counter(
            f"{service}_grpc_shed",
            "gRPC calls ended early for their deadline, by method and reason",
            ["method", "reason"],
            registry=registry,
        )

    def count(self, method: str, reason: str) -> None:
        self._shed.labels(method, reason).inc()

    def expected(self, method: str) -> float:
        pace = self._paces.get(method)
        return 0.0 if pace is None else pace.expected(time.monotonic())

    def took(self, method: str, seconds: float) -> None:
        self._paces.setdefault(method, Pace()).observe(seconds, time.monotonic())


def shedding_for(settings: CommonSettings, registry: CollectorRegistry, service: str) -> Shedding:
    rule = DeadlineRule(
        settings.grpc_min_deadline.total_seconds(), settings.grpc_deadline_margin.total_seconds()
    )
    return Shedding(rule, registry, service)
