"""The bench's own events: created and opened through the AdminService, removed at the end."""

import asyncio
import os
import sys
import time

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from redis.asyncio import Redis

from bench import kafka_io
from stats.consumer import TOPICS as STATS_TOPICS
from waitroomapi.waitroom.v1 import waitroom_pb2 as pb
from waitroomapi.waitroom.v1 import waitroom_pb2_grpc as pb_grpc

REDIS = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
KAFKA = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
ADMIN = (("authorization", f"Bearer {os.environ.get('WAITROOM_ADMIN_TOKEN', 'dev-admin-token')}"),)
# The longest hold the admin API allows: no hold of a bench event expires while the bench runs.
DAY = 24 * 3600
# Admissions per cycle: twice the 10,000 a second aimed at, with the default 1 s interval,
# yet one admission script (atomic, so Redis serves no one else meanwhile) stays short.
BATCH = 20_000


def _at(ms: int) -> Timestamp:
    stamp = Timestamp()
    stamp.FromMilliseconds(ms)
    return stamp


class Events:
    """Admin calls on one waitroom target; every event made goes into `made`, for `remove`."""

    def __init__(self, channel: grpc.aio.Channel, made: list[str]) -> None:
        self._admin = pb_grpc.AdminServiceStub(channel)
        self._queue = pb_grpc.WaitroomServiceStub(channel)
        self.made = made

    async def create(
        self, event_id: str, room: int, batch: int, tickets: int, opens_in_s: float = 0
    ) -> None:
        """An event with `room` checkout slots; with `opens_in_s`, people wait for the opening."""
        request = pb.CreateEventRequest(
            event_id=event_id,
            max_concurrent=room,
            batch_size=min(batch, BATCH),
            checkout_ttl_seconds=DAY,
            tickets=tickets,
        )
        if opens_in_s:
            request.opens_at.CopyFrom(_at(int((time.time() + opens_in_s) * 1000)))
        await self._admin.CreateEvent(request, metadata=ADMIN, timeout=10)
        self.made.append(event_id)

    async def open_now(self, event_id: str) -> float:
        """Moves the opening to now; returns the time it took effect."""
        now = time.time()
        request = pb.UpdateEventRequest(event_id=event_id, opens_at=_at(int(now * 1000)))
        await self._admin.UpdateEvent(request, metadata=ADMIN, timeout=10)
        return now

    async def get(self, event_id: str) -> pb.Event:
        request = pb.GetEventRequest(event_id=event_id)
        event: pb.Event = await self._admin.GetEvent(request, metadata=ADMIN, timeout=10)
        return event

    async def join(self, event_id: str, users: list[str]) -> list[str]:
        """Session ids of `users`, joined concurrently."""
        replies = await asyncio.gather(
            *(
                self._queue.JoinQueue(pb.JoinQueueRequest(user_id=u, event_id=event_id), timeout=30)
                for u in users
            )
        )
        return [r.session_id for r in replies]


async def remove(redis_url: str, service: str, event_ids: list[str]) -> int:
    """Deletes one service's keys of the bench's events; returns how many went."""
    redis = Redis.from_url(redis_url)
    removed = 0
    try:
        for event_id in event_ids:
            await redis.srem(f"{service}:events", event_id)
            batch: list[bytes] = []
            async for name in redis.scan_iter(match=f"{service}:{{{event_id}}}:*", count=5000):
                batch.append(name)
                if len(batch) >= 5000:
                    removed += await redis.unlink(*batch)
                    batch = []
            if batch:
                removed += await redis.unlink(*batch)
    finally:
        await redis.aclose()
    return removed


async def tidy(redis_url: str, bootstrap: str, made: list[str]) -> None:
    """Removes the bench's events: the waitroom's keys at once, checkout's and stats' once
    each caught up.

    Without its config an event admits no one. Checkout holds an admitted person only while
    it knows the event, so its keys go only after it read every QUEUE_READY (else the rest
    would go to the dead-letter topic); removed, no hold of a bench event expires a day
    later in a burst of CHECKOUT_EXPIRED while someone else measures. Stats keeps a record
    of every person and lists every event it saw among its gauges: left behind, each run
    would add a few hundred thousand keys and more events for it to refresh every 2 s.
    Its keys go once it read everything, so that no late message starts an event's figures
    anew.
    """
    removed = await remove(redis_url, "waitroom", made)
    print(f"[bench] removed the waitroom's {removed} keys of the bench's {len(made)} events")
    while not await kafka_io.caught_up(bootstrap, "checkout", within_s=5):
        print("[bench] checkout is still reading QUEUE_READY; its keys wait", flush=True)
    removed = await remove(redis_url, "checkout", made)
    print(f"[bench] removed checkout's {removed} keys of the bench's events")
    while not await kafka_io.caught_up(bootstrap, "stats", within_s=5, read=STATS_TOPICS):
        print("[bench] stats is still reading the events' messages; its keys wait", flush=True)
    removed = await remove(redis_url, "stats", made)
    print(f"[bench] removed stats' {removed} keys of the bench's events")


if __name__ == "__main__":  # events a bench run left: python -m bench.events EVENT_ID...
    asyncio.run(tidy(REDIS, KAFKA, sys.argv[1:]))
