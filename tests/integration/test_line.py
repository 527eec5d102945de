"""The lean line on the real Redis: exact positions, order after leaving, abandoned places."""

import random
import secrets
import time

from common.kafka.outbox import OutboxStream
from waitroom.models import EventConfig, EventState, Status
from waitroom.repository import WaitroomRepository


async def open_event(repo, event_id, now, max_concurrent=1000, batch=1000, opens=None):
    config = EventConfig(event_id, max_concurrent, batch, 60, opens or now, 0, EventState.OPEN)
    await repo.create_event(config, now)


def token(n):
    return f"{n:0>22}"


async def outbox_entries(redis, event_id):
    return await OutboxStream(redis).read(f"waitroom:{{{event_id}}}:outbox", "test", 1000, 60_000)


async def join_all(repo, event_id, tokens, now):
    for n, t in enumerate(tokens):
        await repo.join(event_id, f"u{n}", t, now, 3600, 0.5)


async def test_positions_stay_exact_across_buckets_as_people_leave(redis, event_id):
    repo = WaitroomRepository(redis)
    now = int(time.time() * 1000)
    await open_event(repo, event_id, now)
    people = [token(n) for n in range(300)]  # several buckets of 64
    for n, t in enumerate(people):
        joined = await repo.join(event_id, f"u{n}", t, now, 3600, 0.5)
        assert (joined.rank, joined.queue_length) == (n, n + 1)
    leaving = set(random.Random(7).sample(people, 90))
    for t in leaving:
        assert await repo.leave(event_id, t, now, 3600) is Status.LEFT
    staying = [t for t in people if t not in leaving]
    for place, t in enumerate(staying):
        record = await repo.session(event_id, t, now, 3600)
        assert (record.status, record.rank, record.queue_length) == (Status.QUEUED, place, 210)
    assert (await repo.session(event_id, next(iter(leaving)), now, 3600)).status is Status.LEFT


async def test_admission_takes_the_head_of_the_line_in_order_skipping_leavers(redis, event_id):
    repo = WaitroomRepository(redis)
    now = int(time.time() * 1000)
    await open_event(repo, event_id, now, max_concurrent=1000, batch=50)
    people = [token(n) for n in range(200)]
    await join_all(repo, event_id, people, now)
    for t in people[10:140:3]:
        await repo.leave(event_id, t, now, 3600)
    staying = [t for t in people if t not in people[10:140:3]]
    cycles = [await repo.admit(event_id, f"c{n}", now, 3600) for n in range(5)]
    assert [c.admitted for c in cycles] == [50, 50, 50, len(staying) - 150, 0]
    entries = await outbox_entries(redis, event_id)
    assert [e.fields["session"] for e in entries if e.kind == "ready"] == staying
    assert cycles[-1].queue_length == 0


async def test_a_place_nobody_asks_about_within_the_ttl_is_given_up(redis, event_id):
    repo = WaitroomRepository(redis)
    now = int(time.time() * 1000)
    await open_event(repo, event_id, now, max_concurrent=10, batch=10, opens=now + 120_000)
    await repo.join(event_id, "gone", token(1), now, 60, 0.5)
    await repo.join(event_id, "here", token(2), now, 60, 0.5)
    assert await repo.session(event_id, token(1), now + 59_000, 60) is not None
    for seconds in (50, 100):
        assert await repo.session(event_id, token(2), now + seconds * 1000, 60) is not None
    opening = now + 120_000
    assert await repo.session(event_id, token(1), opening, 60) is None  # 61 s since asked
    rejoined = await repo.join(event_id, "gone", token(3), opening, 60, 0.25)
    assert (rejoined.token, rejoined.status) == (token(3), Status.QUEUED)
    result = await repo.admit(event_id, "open", opening + 1, 60)
    entries = await outbox_entries(redis, event_id)
    kinds = {e.fields["session"]: e.kind for e in entries if e.kind in ("ready", "left")}
    assert kinds == {token(1): "left", token(2): "ready", token(3): "ready"}
    assert (result.admitted, result.queue_length) == (2, 0)


async def test_a_sold_out_event_tells_everyone_in_line_at_once(redis, event_id):
    repo = WaitroomRepository(redis)
    now = int(time.time() * 1000)
    await open_event(repo, event_id, now, max_concurrent=1, batch=1)
    for n in range(130):
        await repo.join(event_id, f"u{n}", token(n), now, 3600, 0.5)
    await repo.sold_out(event_id)
    statuses = {(await repo.session(event_id, token(n), now, 3600)).status for n in range(130)}
    assert statuses == {Status.SOLD_OUT}
    assert (await repo.admit(event_id, "after", now, 3600)).admitted == 0
    assert await repo.leave(event_id, token(5), now, 3600) is Status.SOLD_OUT
    assert (await repo.get_event(event_id)).queue_length == 0


async def test_every_random_token_is_found_again_by_the_scripts(redis, event_id):
    repo = WaitroomRepository(redis)
    now = int(time.time() * 1000)
    await open_event(repo, event_id, now)
    people = [secrets.token_urlsafe(16) for _ in range(200)]
    await join_all(repo, event_id, people, now)
    again = await repo.join(event_id, "u7", secrets.token_urlsafe(16), now, 3600, 0.5)
    assert again.token == people[7]
    assert (await repo.admit(event_id, "all", now, 3600)).admitted == 200
    entries = await outbox_entries(redis, event_id)
    assert [e.fields["session"] for e in entries if e.kind == "ready"] == people


async def test_a_big_batch_is_admitted_in_short_steps_that_keep_to_the_batch(redis, event_id):
    repo = WaitroomRepository(redis)
    now = int(time.time() * 1000)
    await open_event(repo, event_id, now, max_concurrent=1000, batch=250)
    people = [token(n) for n in range(300)]
    await join_all(repo, event_id, people, now)
    steps, already = [], 0
    for step in range(4):
        result = await repo.admit(event_id, f"c1.{step}", now, 3600, already=already, limit=100)
        steps.append(result.admitted)
        already += result.admitted
    await repo.join(event_id, "late", token(999), now, 3600, 0.5)
    # redis-py may send a call again when its reply was lost: the same step admits no one
    retried = await repo.admit(event_id, "c1.3", now, 3600, already=250, limit=100)
    assert (steps, retried.admitted, retried.duplicate_cycle) == ([100, 100, 50, 0], 0, True)
    entries = await outbox_entries(redis, event_id)
    assert [e.fields["session"] for e in entries if e.kind == "ready"] == people[:250]
