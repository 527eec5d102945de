"""What the load driver knows of each person it sent: their session, what they were told, did."""

import time
from collections import Counter
from dataclasses import dataclass, field

import grpc


@dataclass
class Person:
    user_id: str
    join_started: float = 0.0
    join_acknowledged: float = 0.0
    session_id: str = ""
    admitted: bool = False
    choice: str = ""
    order_id: str = ""
    outcome: str = ""  # the last status this person read


@dataclass
class Tally:
    """Every call's outcome by status code, and when the errors happened."""

    people: list[Person] = field(default_factory=list)
    calls: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    error_times: list[float] = field(default_factory=list)
    slow_calls: int = 0  # longer than twice their deadline: a hang, not a refusal
    bought: int = 0

    def ok(self, method: str) -> None:
        self.calls[f"{method} OK"] += 1

    def failed(self, method: str, error: grpc.aio.AioRpcError) -> None:
        code = error.code().name
        self.calls[f"{method} {code}"] += 1
        self.errors[code] += 1
        self.error_times.append(time.monotonic())

    def joined(self) -> list[Person]:
        return [p for p in self.people if p.session_id]

    def recovery_seconds(self, fault_at: float) -> float:
        """From the fault until the last error it caused (0 when no call failed after it)."""
        after = [t for t in self.error_times if t >= fault_at]
        return round(max(after) - fault_at, 1) if after else 0.0
