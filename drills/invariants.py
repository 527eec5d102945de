"""DESIGN.md's invariants, checked from outside once a drill settled, each with its counts.

Each check returns {"ok", "checked", "broken", ...}: how many things it looked at, how many broke.
Kafka delivers at least once, so a record seen twice is no fault; two different admissions
(two admitted_at) or two orders of one session are.
"""

from collections import defaultdict

from google.protobuf.timestamp_pb2 import Timestamp

from common.kafka import topics
from drills.people import Person
from drills.sampler import Samples
from drills.topics_read import of_event

ADMITTED_STATES = {"ADMITTED", "COMPLETED", "EXPIRED", "CANCELLED"}


def verdict(checked: int, broken: int, **figures: object) -> dict:
    return {"ok": broken == 0, "checked": checked, "broken": broken, **figures}


def by_session(records: list[dict]) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = defaultdict(list)
    for record in records:
        found[record.get("session_id", "")].append(record)
    return found


def ms(stamp: object) -> int:
    """A protobuf JSON timestamp in ms since the epoch (0 when missing or malformed)."""
    parsed = Timestamp()
    try:
        parsed.FromJsonString(str(stamp))
    except ValueError:
        return 0
    return int(parsed.ToMilliseconds())


def capacity(samples: Samples, limit: int) -> dict:
    return verdict(
        samples.count,
        samples.over,
        most=samples.most,
        limit=limit,
        unanswered_samples=samples.failed,
    )


def admitted_once(ready: dict[str, list[dict]]) -> dict:
    twice = [s for s, rs in ready.items() if len({ms(r.get("admitted_at")) for r in rs}) > 1]
    copies = sum(len(rs) for rs in ready.values()) - len(ready)
    return verdict(len(ready), len(twice), redelivered_copies=copies, examples=twice[:3])


def none_lost(people: list[Person], statuses: dict[str, str], joined: set[str]) -> dict:
    """Every acknowledged join has one known state now, and its QUEUE_JOINED."""
    unknown = [p.session_id for p in people if statuses.get(p.session_id, "") in ("", "UNKNOWN")]
    unannounced = [p.session_id for p in people if p.session_id not in joined]
    states: dict[str, int] = defaultdict(int)
    for person in people:
        states[statuses.get(person.session_id, "")] += 1
    return verdict(
        len(people),
        len(unknown) + len(unannounced),
        without_state=len(unknown),
        without_queue_joined=len(unannounced),
        states=dict(states),
    )


def join_order(ready: dict[str, list[dict]]) -> dict:
    """Admitted in join order: nobody admitted in a later step than someone who joined after."""
    first = sorted(
        (min(ms(r.get("admitted_at")) for r in rs), rs[0].get("join_sequence", 0))
        for rs in ready.values()
    )
    overtaken, latest_before, group_at, group_max = 0, float("-inf"), -1, float("-inf")
    for admitted_at, sequence in first:
        if admitted_at != group_at:
            latest_before, group_at = max(latest_before, group_max), admitted_at
        overtaken += sequence < latest_before
        group_max = max(group_max, sequence)
    return verdict(len(first), overtaken)


def every_admission_ready(people: list[Person], statuses: dict[str, str], ready: set[str]) -> dict:
    admitted = [
        p.session_id for p in people if p.admitted or statuses.get(p.session_id) in ADMITTED_STATES
    ]
    return verdict(len(admitted), sum(s not in ready for s in admitted))


def slots_freed(ready: set[str], ended: set[str], processing_now: int) -> dict:
    """After the settle every hold has ended: by a checkout event, or by its deadline."""
    open_holds = [s for s in ready if s not in ended]
    return verdict(
        len(ready),
        len(open_holds) + processing_now,
        without_outcome=len(open_holds),
        processing_now=processing_now,
    )


def no_ticket_twice(people: list[Person], completed: dict[str, list[dict]], tickets: int) -> dict:
    orders = {r.get("order_id"): r for rs in completed.values() for r in rs}
    twice = [s for s, rs in completed.items() if len({r.get("order_id") for r in rs}) > 1]
    sold = sum(int(r.get("quantity", 0)) for r in orders.values())
    unannounced = [p.order_id for p in people if p.order_id and p.order_id not in orders]
    broken = len(twice) + len(unannounced) + (sold > tickets)
    return verdict(
        len(orders),
        broken,
        sold=sold,
        tickets=tickets,
        sold_twice=len(twice),
        acknowledged_orders_missing=len(unannounced),
    )


STATS_FIGURES = (
    ("joined", topics.QUEUE_JOINED),
    ("admitted", topics.QUEUE_READY),
    ("completed", topics.CHECKOUT_COMPLETED),
    ("expired", topics.CHECKOUT_EXPIRED),
    ("cancelled", topics.CHECKOUT_CANCELLED),
    ("left", topics.QUEUE_LEFT),
)


def stats_agree(stats: dict[str, int], found: dict[str, list], event_id: str) -> dict:
    disagree = {}
    for figure, topic in STATS_FIGURES:
        expected = len({r.get("session_id") for r in of_event(found.get(topic, []), event_id)})
        if stats.get(figure) != expected:
            disagree[figure] = {"stats": stats.get(figure), "topic": expected}
    return verdict(len(STATS_FIGURES), len(disagree), disagree=disagree)


def expected_stats(found: dict[str, list], event_id: str) -> dict[str, int]:
    return {
        figure: len({r.get("session_id") for r in of_event(found.get(topic, []), event_id)})
        for figure, topic in STATS_FIGURES
    }
