"""Stats' script records a join the same whether the session is new (its short path), was
admitted first (messages out of order), or the join comes twice."""

import uuid

from stats.models import Change, ChangeKind, Outcome, SessionFacts
from stats.repository import StatsRepository

T = 1_764_650_000_123


def session(event_id: str, n: int) -> str:
    return f"{event_id}~{n:022d}"


async def test_a_join_is_recorded_alike_fresh_out_of_order_and_replayed(redis):
    event_id, repository = f"sj-{uuid.uuid4().hex[:10]}", StatsRepository(redis)
    fresh, late = session(event_id, 1), session(event_id, 2)
    try:
        await repository.apply([Change(ChangeKind.READY, event_id, late, "u2", T + 5_000)])
        joins = [
            Change(ChangeKind.JOINED, event_id, fresh, "u1", T),
            Change(ChangeKind.JOINED, event_id, late, "u2", T + 1_000),
        ]
        await repository.apply(joins)
        await repository.apply(joins)  # delivered again: counts once
        raw = await repository.figures(event_id, T + 6_000)
        assert (raw.counts.joined, raw.counts.admitted) == (2, 1)
        assert raw.waits_ms == (4_000.0, 4_000.0, 4_000.0)  # only the admitted one waited
        assert await repository.sessions_of(event_id, "u1") == [
            SessionFacts(fresh, Outcome.QUEUED, T, 0, 0, 0)
        ]
        assert await repository.sessions_of(event_id, "u2") == [
            SessionFacts(late, Outcome.ADMITTED, T + 1_000, T + 5_000, 0, 0)
        ]
    finally:
        keys = [k async for k in redis.scan_iter(match=f"stats:{{{event_id}}}:*")]
        if keys:
            await redis.delete(*keys)
