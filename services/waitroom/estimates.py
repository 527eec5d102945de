"""How long a person still waits, and how often they hear of it: often near the front of the
line, rarely far back."""

import math
from dataclasses import dataclass

# A poll's advice reaches this far at most; a stream's silence ends sooner (WATCH_MAX_SILENCE).
MAX_POLL_SECONDS = 60.0
# Places near the front: every move there matters.
NEAR_FRONT = 100
# A stream is told every move that matters at once; with nothing to tell, it hears again
# after this long at the least (a heartbeat), and at most WATCH_MAX_SILENCE.
STREAM_FLOOR_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Rate:
    """What the wait estimate comes from: admissions measured, or one batch per interval."""

    recent_admissions: int
    rate_window_ms: int
    batch_size: int
    interval_seconds: float

    def per_second(self) -> float:
        if self.recent_admissions and self.rate_window_ms:
            return self.recent_admissions / (self.rate_window_ms / 1000)
        return max(self.batch_size, 1) / self.interval_seconds


def estimate_wait(position: int, rate: Rate, until_open_ms: int) -> int:
    """Seconds until admission of the person at `position` (0: nobody ahead to wait for)."""
    if not position:
        return 0
    return math.ceil(position / rate.per_second() + max(0, until_open_ms) / 1000)


def cadence(wait_seconds: int, floor: float, ceiling: float) -> float:
    """Seconds until the person should hear again: a tenth of the wait, between `floor` (a
    poll's: one processing interval) and `ceiling`."""
    return min(max(wait_seconds / 10, floor), ceiling)


def advice(wait_seconds: int, interval: float, ceiling: float = MAX_POLL_SECONDS) -> int:
    """cadence as whole seconds, at least one (GetQueueStatus' next_poll_after_seconds)."""
    return max(1, math.ceil(cadence(wait_seconds, interval, ceiling)))


def moved_enough(position_before: int, position: int, wait_before: int, wait: int) -> bool:
    """Whether a move is worth an update now: any near the front, a twentieth of the place or a
    fifth of the wait (at least 5 s) further back."""
    step = 1 if position <= NEAR_FRONT else position // 20
    if abs(position_before - position) >= step:
        return True
    return abs(wait_before - wait) >= max(5, wait_before // 5)
