"""What the drill reads once it settled: every session's status, the stats, the event's data."""

import asyncio
import os
import time

import grpc

from drills import cluster, redisdata
from drills.people import Person
from waitroomapi.stats.v1 import stats_pb2, stats_pb2_grpc
from waitroomapi.waitroom.v1 import waitroom_pb2 as pb
from waitroomapi.waitroom.v1 import waitroom_pb2_grpc as pb_grpc

ADMIN = (("authorization", f"Bearer {os.environ.get('WAITROOM_ADMIN_TOKEN', 'dev-admin-token')}"),)


async def create_event(
    event_id: str, max_concurrent: int, batch: int, hold: int, tickets: int
) -> None:
    request = pb.CreateEventRequest(
        event_id=event_id,
        max_concurrent=max_concurrent,
        batch_size=batch,
        checkout_ttl_seconds=hold,
        tickets=tickets,
    )
    async with grpc.aio.insecure_channel(cluster.WAITROOMS[0]) as channel:
        await pb_grpc.AdminServiceStub(channel).CreateEvent(request, metadata=ADMIN, timeout=30)


async def statuses(people: list[Person]) -> dict[str, str]:
    """Each session's status now, asked of either replica; UNKNOWN when neither knows it."""
    gate = asyncio.Semaphore(50)
    async with (
        grpc.aio.insecure_channel(cluster.WAITROOMS[0]) as first,
        grpc.aio.insecure_channel(cluster.WAITROOMS[1]) as second,
    ):
        stubs = [pb_grpc.WaitroomServiceStub(c) for c in (first, second)]

        async def one(n: int, session_id: str) -> tuple[str, str]:
            async with gate:
                return session_id, await _status_of(stubs[n % 2], session_id)

        found = await asyncio.gather(*(one(n, p.session_id) for n, p in enumerate(people)))
    return dict(found)


async def _status_of(stub: pb_grpc.WaitroomServiceStub, session_id: str) -> str:
    for _ in range(20):
        try:
            reply = await stub.GetQueueStatus(
                pb.GetQueueStatusRequest(session_id=session_id), timeout=5
            )
            return pb.SessionStatus.Name(reply.status).removeprefix("SESSION_STATUS_")
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                return "UNKNOWN"
            await asyncio.sleep(1)
    return "UNANSWERED"


async def stats_of(event_id: str) -> dict[str, int]:
    async with grpc.aio.insecure_channel(cluster.STATS) as channel:
        stub = stats_pb2_grpc.StatsServiceStub(channel)
        reply = await stub.GetEventStats(
            stats_pb2.GetEventStatsRequest(event_id=event_id), timeout=10
        )
    return {
        f: int(getattr(reply, f))
        for f in ("joined", "admitted", "completed", "expired", "cancelled", "left", "tickets_sold")
    }


async def processing_now(event_id: str) -> int:
    redis = redisdata.connect(cluster.REDIS_URL)
    try:
        return int(await redis.zcard(redisdata.processing_key(event_id)))
    finally:
        await redis.aclose()


async def healthy(within: float = 120) -> cluster.Status:
    """Waits until every node, broker and service answers; the last status either way."""
    deadline = time.monotonic() + within
    while True:
        now = await cluster.status()
        ok = (
            all(n["state"] == "ok" for n in now.redis)
            and all(b["state"] == "up" for b in now.kafka)
            and all(s["health"] == "SERVING" for s in now.services)
        )
        if ok or time.monotonic() > deadline:
            return now
        await asyncio.sleep(1)
