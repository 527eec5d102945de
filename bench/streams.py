"""Open WatchQueueStatus streams held by one serving process, beside the bare streams server.

Both servers run one process. The client opens a stream per person (about 1,000 per
channel), and the bench reads the server's RSS before and after (memory per open stream),
its CPU time over a steady window against the messages that came meanwhile (CPU per update
sent), then has the waitroom's processor admit a batch (the event's room raised): the time
from that admission step (the holds' start, from the tokens' expiry) to the last update it
caused. The event is closed at the end: every stream must have had its first message and a
final one, the admitted their token, and no stream may fail.
"""

import asyncio
import sys
import time
from typing import Any

import grpc
import psutil

from bench import cpu, events, servers
from bench.servers import Served
from bench.stream_client import Streams
from bench.waiting_line import Line
from waitroomapi.waitroom.v1 import waitroom_pb2 as pb
from waitroomapi.waitroom.v1 import waitroom_pb2_grpc as pb_grpc

SETTLE_S = 3.0  # after the last stream opened, before the RSS is read
QUIET_S = 3.0  # no position moved for this long: the admission has reached everyone


def rss(pid: int) -> int:
    root = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])


def bare_spec(port: int) -> servers.Spec:
    command = [sys.executable, "-m", "bench.bare_streams", str(port)]
    return servers.Spec("bare-streams", command, {}, port, 1)


async def hold(
    server: Served, sessions: list[str], steady_s: float
) -> tuple[Streams, dict[str, Any]]:
    """Opens the streams; memory per stream, then CPU per message over a steady window."""
    streams = Streams(server.target, sessions)
    before = rss(server.pid)
    opened_in = await streams.open()
    await asyncio.sleep(SETTLE_S)
    after = rss(server.pid)
    messages, cpu_before = streams.tally.messages, cpu.tree_seconds(server.pid)
    await asyncio.sleep(steady_s)
    cpu_s = cpu.tree_seconds(server.pid) - cpu_before
    sent = streams.tally.messages - messages
    return streams, {
        "streams": len(sessions),
        "opened_in_s": round(opened_in, 1),
        "rss_before_mb": round(before / 2**20, 1),
        "rss_after_mb": round(after / 2**20, 1),
        "bytes_per_stream": round((after - before) / len(sessions)),
        "steady_s": steady_s,
        "steady_updates": sent,
        "steady_cpu_s": round(cpu_s, 2),
        "cpu_us_per_update": round(cpu_s / sent * 1e6, 1) if sent else None,
    }


async def bare(server: Served, count: int, steady_s: float) -> dict[str, Any]:
    streams, figures = await hold(server, [f"bare-{n}" for n in range(count)], steady_s)
    try:
        async with grpc.aio.insecure_channel(server.target) as channel:
            await pb_grpc.WaitroomServiceStub(channel).LeaveQueue(pb.LeaveQueueRequest())
        await streams.until(lambda: streams.tally.finals == count, 120)
        return {**figures, **accounted(streams)}
    finally:
        await streams.close()


def accounted(streams: Streams) -> dict[str, Any]:
    tally = streams.tally
    if tally.errors or tally.firsts != tally.size or tally.finals != tally.size:
        counts = f"{tally.firsts} firsts, {tally.finals} finals of {tally.size}"
        raise AssertionError(f"streams: {counts}, {tally.errors[:3]}")
    return {"firsts": tally.firsts, "finals": tally.finals, "messages": tally.messages}


async def admission(
    admin: pb_grpc.AdminServiceStub, streams: Streams, event_id: str, pid: int, count: int
) -> dict[str, Any]:
    """Room for `count` more: the processor's next step admits them; until all have heard."""
    tally = streams.tally
    messages, cpu_before, asked = tally.messages, cpu.tree_seconds(pid), time.time()
    change = pb.UpdateEventRequest(event_id=event_id, max_concurrent=1 + count, batch_size=count)
    await admin.UpdateEvent(change, metadata=events.ADMIN, timeout=60)
    await streams.until(lambda: tally.tokens >= count, 60)
    await streams.settled(QUIET_S, 120)
    cpu_s, sent = cpu.tree_seconds(pid) - cpu_before, tally.messages - messages
    step = (min(e for e in tally.expires_ms if e) - events.DAY * 1000) / 1000
    after = sorted(at - step for at in tally.changed_at if at >= step)
    if tally.tokens != count:
        raise AssertionError(f"streams: {tally.tokens} admitted with a token, not {count}")
    return {
        "admitted": tally.tokens,
        "affected": len(after),
        "updates": sent,
        "step_after_ask_s": round(step - asked, 3),
        "to_last_update_s": round(after[-1], 3),
        "to_update_p50_s": round(after[len(after) // 2], 3),
        "to_update_p99_s": round(after[int(len(after) * 0.99)], 3),
        "cpu_s": round(cpu_s, 2),
        "cpu_us_per_update": round(cpu_s / sent * 1e6, 1) if sent else None,
    }


async def waitroom(server: Served, line: Line, steady_s: float, admit: int) -> dict[str, Any]:
    """Everyone in line watches (the one checkout place is taken: nobody is admitted yet)."""
    async with grpc.aio.insecure_channel(server.target) as channel:
        admin = pb_grpc.AdminServiceStub(channel)
        streams, figures = await hold(server, line.sessions, steady_s)
        try:
            step = await admission(admin, streams, line.event_id, server.pid, admit)
            close = pb.UpdateEventRequest(event_id=line.event_id, action=pb.EVENT_ACTION_CLOSE)
            # a serving process busy with the admission's updates answers late: a long deadline
            await admin.UpdateEvent(close, metadata=events.ADMIN, timeout=120)
            await streams.until(lambda: streams.tally.finals == streams.tally.size, 300)
            return {**figures, "admission": step, **accounted(streams)}
        finally:
            await streams.close()
