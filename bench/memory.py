"""Redis memory per person waiting in line, measured on a database of its own."""

import asyncio
import time

from common.ids import new_session_token
from common.redis_client import connect
from common.settings import CommonSettings
from waitroom.models import EventConfig, EventState
from waitroom.repository import WaitroomRepository, key


async def per_person(redis_url: str, people: int) -> dict[str, float]:
    redis = connect(CommonSettings(redis_url=redis_url))
    await redis.flushdb()
    repo = WaitroomRepository(redis)
    now = int(time.time() * 1000)
    event = "bench-memory"
    await repo.create_event(EventConfig(event, 100, 10, 900, now, 0, EventState.OPEN), now)
    await redis.memory_purge()
    before = int((await redis.info("memory"))["used_memory"])
    started = time.monotonic()
    for start in range(0, people, 1000):
        await asyncio.gather(
            *(
                repo.join(event, f"user-{n}", new_session_token(), now, 7200, 0.5)
                for n in range(start, min(start + 2000, people))
            )
        )
    elapsed = time.monotonic() - started
    # the outbox holds QUEUE_JOINED entries until the relay sends them: not part of waiting
    await redis.delete(key(event, "outbox"))
    await redis.memory_purge()
    after = int((await redis.info("memory"))["used_memory"])
    queued = int(await redis.hget(key(event, "config"), "waiting") or 0)
    await redis.flushdb()
    await redis.aclose()
    if queued != people:
        raise AssertionError(f"{queued} in line after {people} joins")
    return {
        "people": people,
        "bytes_per_person": (after - before) / people,
        "joins_per_second_direct": people / elapsed,
    }
