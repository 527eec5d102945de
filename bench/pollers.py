"""Redis calls per second as the people who poll grow, each polling once per PERIOD.

An asyncio client simulates N people: each polls GetQueueStatus once every PERIOD seconds, the
N polls spread evenly over the period (a shuffled order, so front and back mix), for the same
duration at every size. The Redis calls are counted from INFO commandstats over that window,
with the waitroom's idle rate measured just before. Every poll must end OK, QUEUED at the
person's place; the client reports how late it sent, so a run it could not keep up with shows.
"""

import asyncio
import random
import time
from dataclasses import dataclass, field
from typing import Any

import grpc

from bench.servers import Served
from bench.waiting_line import QUEUED, Line, Meters, counted, idle_rate, place_ok
from waitroomapi.waitroom.v1 import waitroom_pb2 as pb
from waitroomapi.waitroom.v1 import waitroom_pb2_grpc as pb_grpc

PERIOD = 30.0  # seconds between two polls of one person
TICK = 0.005
CHANNELS = 8
IN_FLIGHT = 2000
IDLE_SECONDS = 5.0
LATE_S = 1.0  # a poll sent later than this after its time: the client fell behind


@dataclass
class Polls:
    asked: int = 0
    ok: int = 0
    wrong: list[str] = field(default_factory=list)
    late: list[float] = field(default_factory=list)  # seconds after its time, per poll sent

    def figures(self) -> dict[str, Any]:
        late = sorted(self.late)
        p99 = late[int(len(late) * 0.99)] if late else 0.0
        return {
            "polls": self.asked,
            "ok": self.ok,
            "wrong": len(self.wrong),
            "late_p99_s": round(p99, 3),
            "late_max_s": round(late[-1], 3) if late else 0.0,
        }


async def poll_all(target: str, people: list[tuple[int, str]], seconds: float) -> Polls:
    """Each person polls at their offset in the period, for `seconds`; returns the tally."""
    order = people[:]
    random.Random(len(people)).shuffle(order)
    polls, gap = Polls(), PERIOD / len(order)
    channels = [grpc.aio.insecure_channel(target) for _ in range(CHANNELS)]
    stubs = [pb_grpc.WaitroomServiceStub(c) for c in channels]
    limit, tasks = asyncio.Semaphore(IN_FLIGHT), set()
    try:
        started = time.monotonic()
        total = int(seconds / gap)
        for n in range(total):
            due = started + n * gap
            if (wait := due - time.monotonic()) > 0:
                await asyncio.sleep(max(wait, TICK))
            await limit.acquire()
            polls.late.append(time.monotonic() - due)
            place, session = order[n % len(order)]
            task = asyncio.create_task(poll(stubs[n % CHANNELS], place, session, polls, limit))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        polls.asked = total
        await asyncio.gather(*tasks)
    finally:
        for channel in channels:
            await channel.close()
    return polls


async def poll(
    stub: pb_grpc.WaitroomServiceStub,
    place: int,
    session: str,
    polls: Polls,
    limit: asyncio.Semaphore,
) -> None:
    try:
        reply = await stub.GetQueueStatus(pb.GetQueueStatusRequest(session_id=session), timeout=30)
        if reply.status == QUEUED and place_ok(place, reply.position):
            polls.ok += 1
        else:
            polls.wrong.append(f"{session}: {reply.status} at {reply.position}, not {place}")
    except grpc.aio.AioRpcError as error:
        polls.wrong.append(f"{session}: {error.code().name}")
    finally:
        limit.release()


async def one_size(
    room: Served, meters: Meters, people: list[tuple[int, str]], seconds: float
) -> dict[str, Any]:
    idle = await idle_rate(meters, IDLE_SECONDS)
    async with counted(meters) as during:
        polls = await poll_all(room.target, people, seconds)
    if polls.wrong or polls.ok != polls.asked:
        raise AssertionError(f"pollers {len(people)}: {polls.figures()}; {polls.wrong[:3]}")
    rate = during[0]
    return {
        "people": len(people),
        "asked_polls_per_s": round(len(people) / PERIOD, 1),
        "polls_per_s": round(polls.asked / rate.seconds, 1),
        "redis_calls_per_s": round(rate.per_second(), 1),
        "redis_idle_per_s": round(idle.per_second(), 1),
        "redis_net_per_s": round(max(rate.per_second() - idle.per_second(), 0.0), 1),
        "redis_commands_per_s": round(rate.per_second(commands=True), 1),
        "redis_by_command": dict(rate.by_command.most_common()),
        "kafka_records_taken_off": rate.consumed,
        "kept_up": polls.figures()["late_p99_s"] <= LATE_S,
        **polls.figures(),
        "seconds": round(rate.seconds, 1),
    }


def measure(
    room: Served, meters: Meters, line: Line, sizes: list[int], seconds: float
) -> dict[str, Any]:
    """Every size for the same `seconds`; the growth: largest size's calls / smallest's."""
    rows = [asyncio.run(one_size(room, meters, line.spread(n), seconds)) for n in sizes]
    first, last = rows[0], rows[-1]
    return {
        "period_s": PERIOD,
        "seconds": seconds,
        "sizes": rows,
        "growth": round(last["redis_calls_per_s"] / max(first["redis_calls_per_s"], 1e-9), 3),
        "all_kept_up": all(r["kept_up"] for r in rows),
    }
