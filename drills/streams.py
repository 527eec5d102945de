"""A serving process holding 10,000 open WatchQueueStatus streams killed (kill -9) mid-sale: its
watchers reconnect to the other waitroom replica (50061) and lose nothing. Checked afterwards:
every watcher's final status, every admitted one's token as QUEUE_READY carried it, nobody's
admission missed, every broken stream reconnected (and how soon after the kill)."""

import asyncio
import math
import time
from collections import Counter

import grpc

from common.kafka import topics
from drills import cluster, cpu, observe, sockets
from drills.invariants import by_session, verdict
from drills.run import Context
from drills.topics_read import of_event
from drills.watchers import Crowd, Watcher
from waitroomapi.waitroom.v1 import waitroom_pb2 as pb
from waitroomapi.waitroom.v1 import waitroom_pb2_grpc as pb_grpc

WATCHERS = 10_800  # so that more than 10,000 are still open at the kill, the sale under way
PER_CHANNEL = 1_000
FAST_BATCH = 250  # the release rate from just before the kill (the event opens at a trickle)
SPEED_UP_BEFORE_KILL = 1.5  # seconds: the first steps at the new rate have run at the kill
Records = dict[str, list[dict[str, object]]]  # topic -> its records, parsed
FINALS = {"ADMITTED", "COMPLETED", "EXPIRED", "CANCELLED", "LEFT", "SOLD_OUT"}


async def kill_watched_serving(ctx: Context) -> None:
    """kill -9 of a waitroom serving process holding 10,000 open WatchQueueStatus streams"""
    limit = sockets.raise_open_files()
    service = (await cluster.status()).service("waitroom")
    pids = cluster.serving_processes(service["pid"])
    wanted = math.ceil(WATCHERS / PER_CHANNEL)
    victim, home = await sockets.channels_on_one(cluster.WAITROOMS[0], pids, wanted)
    elsewhere = [
        grpc.aio.insecure_channel(cluster.WAITROOMS[1], options=sockets.OWN_CONNECTION)
        for _ in range(wanted)
    ]
    ctx.note(f"{wanted} channels on serving process {victim} of {pids}; open files {limit}")
    crowd = Crowd(ctx.load, [home, elsewhere])
    try:
        await _watching(ctx, crowd, victim)
    finally:
        await crowd.close()


async def _watching(ctx: Context, crowd: Crowd, victim: int) -> None:
    started = time.monotonic()
    await crowd.join(WATCHERS, "watch")
    ctx.note(f"{WATCHERS} watchers joined in {time.monotonic() - started:.1f} s")
    crowd.start()
    await _until_heard(crowd, within=90)
    ctx.note(f"{crowd.open_streams()} streams open, each with its first status")
    before = await cluster.status()  # slow (a script): before the speed-up, not after
    await _release_rate(ctx.event_id, FAST_BATCH)
    await asyncio.sleep(SPEED_UP_BEFORE_KILL)
    window, open_at_kill, kill_at = cpu.Window(before), crowd.open_streams(), time.monotonic()
    await cluster.kill_and_wait(victim)
    ctx.note(f"kill -9 serving process {victim}: {open_at_kill} streams open on it")
    spent = await _reconnect_cpu(crowd, kill_at, window)
    ctx.note(f"CPU seconds from the kill to the last reconnect: {spent}")
    unfinished = await crowd.finished(within=300)
    ctx.note(f"watchers done ({unfinished} not)")
    figures = reconnects(crowd.watchers, kill_at)
    ctx.figures.update(
        watchers=WATCHERS, open_at_kill=open_at_kill, unfinished=unfinished, **figures
    )
    ctx.figures["cpu_seconds_kill_to_last_reconnect"] = spent
    ctx.note(f"reconnects {figures}")
    ctx.checks.append(lambda found: checks(crowd.watchers, kill_at, found, ctx.event_id))


async def _until_heard(crowd: Crowd, within: float) -> None:
    deadline = time.monotonic() + within
    waiting = crowd.watchers
    while waiting and time.monotonic() < deadline:
        waiting = [w for w in waiting if not w.messages]
        await asyncio.sleep(0.2)


async def _reconnect_cpu(crowd: Crowd, kill_at: float, window: cpu.Window) -> dict[str, float]:
    """Waits (2 minutes at most) until the streams the kill broke heard on new ones (some
    did, and none is still broken); the CPU seconds each part of the stack spent in the
    window, and the window's wall seconds."""

    def reconnecting() -> bool:
        return not crowd.reconnected(kill_at) or any(w.broken for w in crowd.watchers)

    while reconnecting() and time.monotonic() - kill_at < 120:  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    wall = round(time.monotonic() - kill_at, 1)
    return {**window.spent(), "wall": wall}


async def _release_rate(event_id: str, batch: int) -> None:
    request = pb.UpdateEventRequest(event_id=event_id, batch_size=batch)
    async with grpc.aio.insecure_channel(cluster.WAITROOMS[1]) as channel:
        await pb_grpc.AdminServiceStub(channel).UpdateEvent(
            request, metadata=observe.ADMIN, timeout=30
        )


def _first_after(times: list[float], moment: float) -> float | None:
    return next((t for t in times if t >= moment), None)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return round(ordered[round(share * (len(ordered) - 1))], 2) if ordered else 0.0


def reconnects(watchers: list[Watcher], kill_at: float) -> dict[str, object]:
    """Of the streams the kill broke: how many, how soon after the kill each had a status
    on a new stream, and where they ended (address 0 is 50051, 1 is 50061)."""
    broken = [w for w in watchers if _first_after(w.broke_at, kill_at) is not None]
    seconds = [
        t - kill_at for w in broken if (t := _first_after(w.reconnected_at, kill_at)) is not None
    ]
    return {
        "broken_by_kill": len(broken),
        "reconnected": len(seconds),
        "reconnect_p50_s": percentile(seconds, 0.5),
        "reconnect_p99_s": percentile(seconds, 0.99),
        "reconnect_max_s": round(max(seconds), 2) if seconds else 0.0,
        "streams_opened": sum(w.streams for w in watchers),
        "messages": sum(w.messages for w in watchers),
        "break_codes": dict(sum((w.codes for w in watchers), Counter())),
        "broke_after_final": sum(w.after_final for w in watchers),
        "finals": dict(Counter(w.final for w in watchers)),
        "ended_on": dict(Counter(cluster.WAITROOMS[w.address % 2] for w in broken)),
        "hold_left_at_admitted_p1_s": percentile([w.hold_left for w in watchers if w.token], 0.01),
        "admitted_with_under_3s_left": sum(1 for w in watchers if w.token and w.hold_left < 3),
    }


def checks(
    watchers: list[Watcher], kill_at: float, found: Records, event_id: str
) -> dict[str, dict[str, object]]:
    ready = by_session(of_event(found.get(topics.QUEUE_READY, []), event_id))
    tokens = {s: {r.get("checkout_token") for r in rs} for s, rs in ready.items()}
    admitted = [w for w in watchers if w.token]
    wrong = [w for w in admitted if tokens.get(w.person.session_id) != {w.token}]
    in_ready = [w for w in watchers if w.person.session_id in ready]
    missed = [w for w in in_ready if not w.token]
    unfinal = [w for w in watchers if w.final not in FINALS]
    broken = [w for w in watchers if _first_after(w.broke_at, kill_at) is not None]
    stranded = [w for w in broken if _first_after(w.reconnected_at, kill_at) is None]
    return {
        "watchers_final": verdict(
            len(watchers), len(unfinal), finals=dict(Counter(w.final for w in watchers))
        ),
        "watch_tokens": verdict(len(admitted), len(wrong), examples=_ids(wrong)),
        "no_admission_missed": verdict(len(in_ready), len(missed), examples=_ids(missed)),
        "reconnected": verdict(len(broken), len(stranded), examples=_ids(stranded)),
    }


def _ids(watchers: list[Watcher]) -> list[str]:
    return [w.person.session_id for w in watchers[:3]]
