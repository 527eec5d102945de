"""The waitroom's domain types and errors, shared by the service, repository and servicer."""

from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    QUEUED = "queued"
    ADMITTED = "admitted"
    COMPLETED = "completed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    LEFT = "left"
    SOLD_OUT = "sold_out"


# People per admission script call: a big batch is several short scripts, so Redis never stalls.
ADMIT_STEP = 1000


class EventState(StrEnum):
    OPEN = "open"
    PAUSED = "paused"
    CLOSED = "closed"


class EventAction(StrEnum):
    PAUSE = "pause"
    RESUME = "resume"
    CLOSE = "close"


class NotFoundError(Exception):
    """An unknown event or session."""


class AlreadyExistsError(Exception):
    """An event with this id exists already."""


class FailedPreconditionError(Exception):
    """The call is valid but the state of the event or session does not allow it."""


class TooManyStreamsError(Exception):
    """A session has as many open streams on this serving process as it may."""


class ShuttingDownError(Exception):
    """This serving process is stopping: reconnect, to another replica."""


@dataclass(frozen=True, slots=True)
class Defaults:
    """The settings an event takes when its operator gives none."""

    max_concurrent: int
    batch_size: int
    checkout_ttl_seconds: int
    session_ttl_seconds: int
    process_interval_seconds: float


@dataclass(frozen=True, slots=True)
class ProcessorConfig:
    """The queue processor's timing, in seconds; the lingers are the relay's (relay_schedule)."""

    interval: float
    session_ttl_seconds: int
    retry_attempts: int
    retry_delay: float
    max_processing_duration: float
    relay_linger: float = 0.02
    quiet_linger: float = 0.1


@dataclass(frozen=True, slots=True)
class EventConfig:
    event_id: str
    max_concurrent: int
    batch_size: int
    checkout_ttl_seconds: int
    opens_at_ms: int
    tickets: int
    state: EventState
    version: int = 0


@dataclass(frozen=True, slots=True)
class EventView:
    config: EventConfig
    queue_length: int
    processing_count: int
    total_admitted: int
    sold_out: bool = False


@dataclass(frozen=True, slots=True)
class EventChange:
    """What UpdateEvent asks for: None leaves a setting as it is."""

    max_concurrent: int | None = None
    batch_size: int | None = None
    checkout_ttl_seconds: int | None = None
    opens_at_ms: int | None = None
    tickets: int | None = None
    action: EventAction | None = None


@dataclass(frozen=True, slots=True)
class JoinOutcome:
    token: str
    status: Status
    rank: int | None
    queue_length: int
    opens_at_ms: int
    place: int | None = None  # in line (lua/lib.lua); None when the store did not say


@dataclass(frozen=True, slots=True)
class SessionRecord:
    status: Status
    user_id: str
    admitted_at_ms: int
    expires_at_ms: int
    rank: int | None
    queue_length: int
    opens_at_ms: int
    batch_size: int
    recent_admissions: int
    rate_window_ms: int
    state: EventState = EventState.OPEN
    place: int = 0  # in line, while queued (lua/lib.lua): admission takes places in order
    popped: int = 0  # places the line had given up when this was read (see Pulse)
    left_seq: int = 0  # leaves the event had seen when this was read (see Pulse)


@dataclass(frozen=True, slots=True)
class Leave:
    seq: int
    place: int
    token: str


@dataclass(frozen=True, slots=True)
class Pulse:
    """What every watcher of an event needs, read once per serving process and interval."""

    state: EventState
    sold_out: bool
    head: int  # the last place taken from the line: places up to it are admitted or gone
    popped: int  # places taken from the line so far, all ahead of anyone still waiting
    waiting: int
    opens_at_ms: int
    batch_size: int
    left_seq: int  # leaves so far; `leaves` are those after the seq asked for
    recent_admissions: int
    rate_window_ms: int
    leaves: tuple[Leave, ...] = ()


@dataclass(frozen=True, slots=True)
class AdmissionResult:
    admitted: int
    reaped: int
    queue_length: int
    processing: int
    duplicate_cycle: bool = False
