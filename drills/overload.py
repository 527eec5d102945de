"""Overload: joins at 1.5 times the measured capacity for 60 s with 200 ms deadlines, on an
event of their own, while the drill's steady load goes on. Callers must be refused
(RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED), never left hanging; memory must stay flat."""

import asyncio
import json
import time
import uuid
from collections import Counter

import grpc

from drills import cluster, observe
from drills.run import Context
from waitroomapi.waitroom.v1 import waitroom_pb2 as pb
from waitroomapi.waitroom.v1 import waitroom_pb2_grpc as pb_grpc

DEADLINE, SECONDS, FACTOR, MEASURE_SECONDS = 0.2, 60.0, 1.5, 5.0


class Flood:
    def __init__(self, event_id: str, stubs: list[pb_grpc.WaitroomServiceStub]) -> None:
        self.event_id, self.stubs = event_id, stubs
        self.codes: Counter[str] = Counter()
        self.hung = 0
        self.sent = 0

    async def join(self, deadline: float | None) -> None:
        self.sent += 1
        request = pb.JoinQueueRequest(user_id=f"o-{uuid.uuid4().hex}", event_id=self.event_id)
        started = time.monotonic()
        try:
            await self.stubs[self.sent % 2].JoinQueue(request, timeout=deadline)
            self.codes["OK"] += 1
        except grpc.aio.AioRpcError as error:
            self.codes[error.code().name] += 1
        if time.monotonic() - started > (deadline or 30) + 1:
            self.hung += 1

    async def capacity(self) -> float:
        """Joins a second that 64 callers in a closed loop get through."""
        stop = time.monotonic() + MEASURE_SECONDS

        async def caller() -> None:
            while time.monotonic() < stop:
                await self.join(5.0)

        await asyncio.gather(*(caller() for _ in range(64)))
        return self.codes["OK"] / MEASURE_SECONDS

    async def open_loop(self, rate: float) -> None:
        """`rate` calls a second whatever the answers, at most 5000 in flight."""
        pending: set[asyncio.Task[None]] = set()
        started = time.monotonic()
        while (elapsed := time.monotonic() - started) < SECONDS:
            due = int(elapsed * rate) - self.sent
            for _ in range(max(0, min(due, 5000 - len(pending)))):
                task = asyncio.create_task(self.join(DEADLINE))
                pending.add(task)
                task.add_done_callback(pending.discard)
            await asyncio.sleep(0.01)
        await asyncio.gather(*pending)


def memory_kib() -> dict[str, int]:
    """Each service's resident memory, its serving processes included."""
    status = cluster.run("scripts/cluster.sh", "status", "--json", check=False)
    found = {}
    for service in json.loads(status)["services"]:
        pids = [service["pid"], *cluster.children(service["pid"])] if service["pid"] else []
        found[service["name"]] = sum(cluster.rss_kib(p) for p in pids)
    return found


async def overload(ctx: Context) -> None:
    """joins at 1.5x the measured capacity for 60 s, 200 ms deadlines"""
    event_id = f"overload-{uuid.uuid4().hex[:6]}"
    await observe.create_event(event_id, 1, 1, 60, 1_000_000)
    before = await asyncio.to_thread(memory_kib)
    channels = [grpc.aio.insecure_channel(a) for a in cluster.WAITROOMS]
    flood = Flood(event_id, [pb_grpc.WaitroomServiceStub(c) for c in channels])
    rate = await flood.capacity()
    ctx.note(f"measured capacity {rate:.0f} joins/s; flooding at {FACTOR * rate:.0f}/s")
    flood.codes.clear()
    flood.sent = 0
    await flood.open_loop(FACTOR * rate)
    for channel in channels:
        await channel.close()
    after = await asyncio.to_thread(memory_kib)
    ctx.note(f"flood: {flood.sent} calls, {dict(flood.codes)}, {flood.hung} hung past deadline+1s")
    ctx.note(f"memory KiB before {before}, after {after}")
    ctx.figures.update(
        capacity_per_second=round(rate),
        flood_rate=round(FACTOR * rate),
        flood_calls=flood.sent,
        flood_codes=dict(flood.codes),
        hung=flood.hung,
        memory_kib_before=before,
        memory_kib_after=after,
    )
