"""An outbox read comes in stream order, whether it holds one reply's entries or several."""

import asyncio

from common.kafka.outbox import GROUP, OutboxStream
from waitroom.repository import key


async def add(redis, stream: str, count: int) -> list[str]:
    return [await redis.xadd(stream, {"kind": "joined", "n": str(n)}) for n in range(count)]


async def test_claimed_held_and_new_entries_come_in_stream_order(redis, event_id):
    stream, outbox = key(event_id, "outbox"), OutboxStream(redis)
    await redis.xgroup_create(stream, GROUP, id="0", mkstream=True)
    added = await add(redis, stream, 3)
    assert [e.entry_id for e in await outbox.read(stream, "live", 1, None)] == added[:1]
    assert [e.entry_id for e in await outbox.read(stream, "dead", 2, None)] == added[1:]
    await asyncio.sleep(0.3)
    await redis.xclaim(stream, GROUP, "live", 0, [added[0]], justid=True)  # live's is fresh
    newer = await add(redis, stream, 2)
    # dead's two come first (claimed), then live's own one: the read puts them in order
    read = await outbox.read(stream, "live", 10, claim_idle_ms=200)
    assert [e.entry_id for e in read] == [*added, *newer]


async def test_new_entries_alone_come_in_stream_order(redis, event_id):
    stream, outbox = key(event_id, "outbox"), OutboxStream(redis)
    await redis.xgroup_create(stream, GROUP, id="0", mkstream=True)
    added = await add(redis, stream, 50)
    assert [e.entry_id for e in await outbox.read(stream, "live", 100, None)] == added
