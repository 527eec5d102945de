"""The Kafka topics of DESIGN.md: the one list the code, the topic tool and the manifests share."""

from dataclasses import dataclass

DAY_MS = 24 * 3600 * 1000
# A topic keeps a week; its dead letters twice that, so an operator back from a week off sees them.
RETENTION_MS = 7 * DAY_MS
DEAD_LETTER_RETENTION_MS = 14 * DAY_MS
DEAD_LETTER_PARTITIONS = 3


@dataclass(frozen=True)
class Topic:
    name: str
    key: str
    # In production; a developer machine gives every topic the same count (infra/kafka.sh).
    partitions: int
    # Compacted, and what for (the latest record of each key is kept, not a week of them).
    compacted: str = ""


EVENT_UPDATED = "EVENT_UPDATED"
EVENT_SOLD_OUT = "EVENT_SOLD_OUT"
QUEUE_JOINED = "QUEUE_JOINED"
QUEUE_READY = "QUEUE_READY"
QUEUE_LEFT = "QUEUE_LEFT"
CHECKOUT_COMPLETED = "CHECKOUT_COMPLETED"
CHECKOUT_EXPIRED = "CHECKOUT_EXPIRED"
CHECKOUT_CANCELLED = "CHECKOUT_CANCELLED"

# Per event: few keys, so few partitions; per session: many keys, spread for the consumers.
TOPICS = (
    Topic(EVENT_UPDATED, "event_id", 3, compacted="the latest settings of each event"),
    Topic(EVENT_SOLD_OUT, "event_id", 3),
    Topic(QUEUE_JOINED, "session_id", 12),
    Topic(QUEUE_READY, "session_id", 12),
    Topic(QUEUE_LEFT, "session_id", 12),
    Topic(CHECKOUT_COMPLETED, "session_id", 12),
    Topic(CHECKOUT_EXPIRED, "session_id", 12),
    Topic(CHECKOUT_CANCELLED, "session_id", 12),
)
ALL = tuple(topic.name for topic in TOPICS)


def dead_letter(topic: str) -> str:
    return f"{topic}.DLQ"
