"""One drill: an event, a steady load, the fault in the middle, the settle, the invariants."""

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field

from common.kafka import topics
from drills import cluster, invariants, observe
from drills.load import Load, Shape
from drills.sampler import Samples, sample
from drills.topics_read import of_event, read_all


@dataclass
class Context:
    """What a fault sees: the load it runs under, and where it notes what it did."""

    load: Load
    event_id: str
    notes: list[str] = field(default_factory=list)
    figures: dict[str, object] = field(default_factory=dict)  # what a fault measured
    # checks of a fault's own, run on the topics once the drill settled (name -> verdict)
    checks: list[Callable[[dict[str, list]], dict[str, dict]]] = field(default_factory=list)
    fault_at: float = 0.0
    healed_at: float = 0.0

    def note(self, text: str) -> None:
        self.notes.append(f"{time.monotonic() - self.load.started:5.1f}s {text}")
        print(f"    {self.notes[-1]}", flush=True)


Fault = Callable[[Context], Awaitable[None]]


@dataclass
class Drill:
    name: str
    fault: Fault
    shape: Shape = field(default_factory=Shape)
    fault_after: float = 10.0  # seconds of load before the fault
    max_concurrent: int = 40
    batch: int = 20
    hold: int = 5
    tickets: int = 1_000_000
    cleanup: Callable[[], Awaitable[None]] | None = None  # after the checks, before the next


async def run(drill: Drill) -> dict:
    await observe.healthy()
    event_id = f"drill-{drill.name}-{uuid.uuid4().hex[:6]}"
    await observe.create_event(
        event_id, drill.max_concurrent, drill.batch, drill.hold, drill.tickets
    )
    load, samples = Load(event_id, drill.shape), Samples()
    ctx = Context(load, event_id)
    sampler = asyncio.create_task(
        sample(cluster.REDIS_URL, event_id, drill.max_concurrent, samples)
    )
    try:
        await _under_load(drill, ctx)
        unsettled = await load.settle(within=150)
        ctx.note(f"settled ({unsettled} people still going)")
        await observe.healthy()
    finally:
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
        await asyncio.wait_for(load.close(), 30)
    ctx.note("checking")
    try:
        async with asyncio.timeout(300):
            return await _result(drill, ctx, samples, unsettled)
    finally:
        if drill.cleanup is not None:
            await drill.cleanup()


async def _under_load(drill: Drill, ctx: Context) -> None:
    driving = asyncio.create_task(ctx.load.run())
    await asyncio.sleep(drill.fault_after)
    ctx.fault_at = time.monotonic()
    ctx.note("fault")
    try:
        await drill.fault(ctx)
    finally:
        ctx.healed_at = time.monotonic()
        ctx.note("healed")
        await driving


async def _settled_topics(event_id: str) -> tuple[dict[str, list], dict[str, int]]:
    """The topics and the stats, read again until stats caught up with them (60 s at most)."""
    deadline = time.monotonic() + 60
    while True:
        found = await read_all(cluster.KAFKA)
        stats = await observe.stats_of(event_id)
        if stats_match(stats, found, event_id) or time.monotonic() > deadline:
            return found, stats
        await asyncio.sleep(3)


def stats_match(stats: dict[str, int], found: dict[str, list], event_id: str) -> bool:
    expected = invariants.expected_stats(found, event_id)
    return all(stats.get(k) == v for k, v in expected.items())


async def _result(drill: Drill, ctx: Context, samples: Samples, unsettled: int) -> dict:
    tally = ctx.load.tally
    people = tally.joined()
    found, stats = await _settled_topics(ctx.event_id)
    ctx.note(f"topics read: {sum(len(v) for v in found.values())} records")
    statuses = await observe.statuses(people)
    ctx.note(f"{len(statuses)} statuses read")
    checks = _checks(drill, ctx, people, statuses, found, stats, samples)
    for own in ctx.checks:
        checks.update(own(found))
    checks["slots_freed"] = invariants.slots_freed(
        set(_sessions(found, topics.QUEUE_READY, ctx.event_id)),
        _ended(found, ctx.event_id),
        await observe.processing_now(ctx.event_id),
    )
    lost = checks["none_lost"]["broken"] + checks["no_ticket_twice"]["acknowledged_orders_missing"]
    return {
        "drill": drill.name,
        "fault": drill.fault.__doc__ or drill.name,
        "event_id": ctx.event_id,
        "load": {**asdict(drill.shape), "calls": dict(tally.calls), "slow_calls": tally.slow_calls},
        "people": len(tally.people),
        "joined": len(people),
        "admitted": sum(p.admitted for p in people),
        "completed": sum(bool(p.order_id) for p in people),
        "unsettled": unsettled,
        "errors": dict(tally.errors),
        "recover_seconds": tally.recovery_seconds(ctx.fault_at),
        "fault_seconds": round(ctx.healed_at - ctx.fault_at, 1),
        "lost": lost,
        "stats": stats,
        "invariants": checks,
        "notes": ctx.notes,
        "fault_figures": ctx.figures,
        "ok": all(c["ok"] for c in checks.values()),
    }


def _checks(drill: Drill, ctx: Context, people, statuses, found, stats, samples) -> dict:
    ready = invariants.by_session(of_event(found.get(topics.QUEUE_READY, []), ctx.event_id))
    completed = invariants.by_session(
        of_event(found.get(topics.CHECKOUT_COMPLETED, []), ctx.event_id)
    )
    joined = set(_sessions(found, topics.QUEUE_JOINED, ctx.event_id))
    return {
        "capacity": invariants.capacity(samples, drill.max_concurrent),
        "admitted_once": invariants.admitted_once(ready),
        "none_lost": invariants.none_lost(people, statuses, joined),
        "join_order": invariants.join_order(ready),
        "every_admission_ready": invariants.every_admission_ready(people, statuses, set(ready)),
        "no_ticket_twice": invariants.no_ticket_twice(people, completed, drill.tickets),
        "stats_agree": invariants.stats_agree(stats, found, ctx.event_id),
    }


def _sessions(found: dict[str, list], topic: str, event_id: str) -> list[str]:
    return [r.get("session_id", "") for r in of_event(found.get(topic, []), event_id)]


def _ended(found: dict[str, list], event_id: str) -> set[str]:
    outcomes = (topics.CHECKOUT_COMPLETED, topics.CHECKOUT_EXPIRED, topics.CHECKOUT_CANCELLED)
    return {s for topic in outcomes for s in _sessions(found, topic, event_id)}
