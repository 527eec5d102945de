"""Redis memory per person waiting in line, on a Redis server of its own, beside a baseline.

The figure is the growth of `used_memory` while N people join through the real join script,
on a redis-server started for this measurement alone (so nothing else writes to it). The
baseline stores the same N people the way DESIGN.md first laid out: a session hash with a
TTL, a user key and a sorted-set entry each.
"""

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio import Redis

from common.process.settings import CommonSettings
from common.redis.client import connect
from common.tokens.ids import new_session_token
from waitroom.models import EventConfig, EventState
from waitroom.repository import WaitroomRepository, key

EVENT = "bench-memory"
CHUNK = 2000
TTL_S = 7200


@contextlib.asynccontextmanager
async def private_redis() -> AsyncIterator[Redis]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = await asyncio.create_subprocess_exec(
        *("redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""),
        *("--appendonly", "no"),
        stdout=asyncio.subprocess.DEVNULL,
    )
    redis = connect(CommonSettings(redis_url=f"redis://127.0.0.1:{port}/0"))
    try:
        for _ in range(100):
            with contextlib.suppress(Exception):
                await redis.ping()
                break
            await asyncio.sleep(0.05)
        yield redis
    finally:
        await redis.aclose()
        server.terminate()
        await server.wait()


async def used_memory(redis: Redis) -> int:
    await redis.memory_purge()
    return int((await redis.info("memory"))["used_memory"])


async def waitroom_line(redis: Redis, people: int) -> float:
    """Joins through the waitroom's own script; returns the joins per second."""
    repo = WaitroomRepository(redis)
    await repo.ping()  # loads the scripts
    now = int(time.time() * 1000)
    await repo.create_event(EventConfig(EVENT, 100, 10, 900, now, 0, EventState.OPEN), now)
    started = time.monotonic()
    for start in range(0, people, CHUNK):
        await asyncio.gather(
            *(
                repo.join(EVENT, f"user-{n}", new_session_token(), now, TTL_S, 0.5)
                for n in range(start, min(start + CHUNK, people))
            )
        )
    elapsed = time.monotonic() - started
    # the outbox holds QUEUE_JOINED entries until the relay sends them: not part of waiting
    await redis.delete(key(EVENT, "outbox"))
    waiting = int(await redis.hget(key(EVENT, "config"), "waiting") or 0)
    if waiting != people:
        raise AssertionError(f"memory: {waiting} in line after {people} joins")
    return people / elapsed


async def design_line(redis: Redis, people: int) -> None:
    """The baseline: a session hash, a user key and a zset entry per person."""
    now = int(time.time() * 1000)
    for start in range(0, people, CHUNK):
        async with redis.pipeline(transaction=False) as pipe:
            for n in range(start, min(start + CHUNK, people)):
                token, user = new_session_token(), f"user-{n}"
                session = key(EVENT, f"session:{token}")
                pipe.hset(session, mapping={"status": "queued", "user_id": user})
                pipe.hset(session, mapping={"joined_at": now, "seq": n + 1})
                pipe.expire(session, TTL_S)
                pipe.set(key(EVENT, f"user:{user}"), token, ex=TTL_S)
                pipe.zadd(key(EVENT, "queue"), {token: n + 1})
            await pipe.execute()
    if await redis.zcard(key(EVENT, "queue")) != people:
        raise AssertionError("memory: the baseline line is short")


async def per_person(people: int) -> dict[str, Any]:
    figures: dict[str, Any] = {"people": people}
    for name, fill in (("waitroom", waitroom_line), ("baseline", design_line)):
        async with private_redis() as redis:
            before = await used_memory(redis)
            rate = await fill(redis, people)
            figures[f"{name}_bytes_per_person"] = (await used_memory(redis) - before) / people
            if rate:
                figures["joins_per_second_direct"] = rate
    figures["bytes_per_person"] = figures["waitroom_bytes_per_person"]
    figures["ratio"] = figures["waitroom_bytes_per_person"] / figures["baseline_bytes_per_person"]
    return figures
