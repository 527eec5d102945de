"""`make run`: a flash crowd through the running stack, from joining the line to buying."""

import argparse
import asyncio
import os
import sys
import time
import uuid
from collections import Counter

import grpc

from demo.crowd import Crowd, kafka_tail
from demo.watchers import Listeners, hearing_rows, percentile, wrong_tokens
from waitroomapi.stats.v1 import stats_pb2
from waitroomapi.stats.v1 import stats_pb2_grpc as stats_grpc
from waitroomapi.waitroom.v1 import waitroom_pb2 as pb


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=3000)
    parser.add_argument("--tickets", type=int, default=2000, help="fewer than people want")
    parser.add_argument("--concurrency", type=int, default=64, help="joins in flight at once")
    parser.add_argument("--max-concurrent", type=int, default=150, help="slots in checkout")
    parser.add_argument("--batch", type=int, default=150, help="admissions per cycle")
    parser.add_argument("--hold", type=int, default=3, help="checkout hold in seconds")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--pollers", type=float, default=0.2, help="share who poll GetQueueStatus, not watch"
    )
    parser.add_argument("--waitroom", default="127.0.0.1:50051")
    parser.add_argument("--checkout", default="127.0.0.1:50052")
    parser.add_argument("--stats", default="127.0.0.1:50053")
    parser.add_argument(
        "--kafka", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    )
    parser.add_argument("--timeout", type=float, default=300)
    return parser.parse_args()


def progress(crowd: Crowd, started: float) -> str:
    view, t = crowd.view, crowd.tally
    in_checkout = view.processing_count if view else 0
    return (
        f"{time.time() - started:6.1f}s  joined {len(t.joined_at):>5}  "
        f"queued {view.queue_length if view else 0:>5}  "
        f"in checkout {in_checkout:>4}/{crowd.args.max_concurrent} "
        f"[{'#' * (20 * in_checkout // crowd.args.max_concurrent):<20}]  "
        f"admitted {len(t.admitted_at):>5}  sold {t.tickets_bought:>5}/{crowd.args.tickets}"
        + ("  SOLD OUT" if t.sold_out_at else "")
    )


async def run(args: argparse.Namespace) -> int:
    event_id = f"demo-{uuid.uuid4().hex[:8]}"
    async with (
        grpc.aio.insecure_channel(args.waitroom) as waitroom,
        grpc.aio.insecure_channel(args.checkout) as checkout,
        Listeners(args.waitroom, args.pollers, args.seed) as listeners,
    ):
        crowd = Crowd(args, listeners, waitroom, checkout, event_id)
        await crowd.create_event()
        consumer = await kafka_tail(args.kafka)
        print(
            f"Flash crowd: {args.people} people, {args.tickets} tickets for {event_id} "
            f"({args.max_concurrent} checkout slots, {args.hold}s holds; 70% buy, "
            f"10% cancel, 20% walk away; {1 - args.pollers:.0%} watch their place, "
            f"{args.pollers:.0%} poll)"
        )
        started = time.time()
        tasks = [
            asyncio.create_task(crowd.watch_kafka(consumer)),
            asyncio.create_task(crowd.sample()),
        ]
        try:
            await follow(crowd, started, asyncio.create_task(crowd.run_all()))
            await ready_read(crowd)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await consumer.stop()
        code = summarize(crowd, started)
    await show_stats(args.stats, event_id, len(crowd.tally.joined_at))
    return code


async def follow(crowd: Crowd, started: float, everyone: asyncio.Task[None]) -> None:
    """Prints progress every second until everyone has heard their final status and acted."""
    try:
        while time.time() - started < crowd.args.timeout and not everyone.done():
            await asyncio.wait({everyone}, timeout=1)
            print(
                ("\r" if sys.stdout.isatty() else "") + progress(crowd, started),
                end="" if sys.stdout.isatty() else "\n",
                flush=True,
            )
    finally:
        everyone.cancel()
        await asyncio.gather(everyone, return_exceptions=True)
    print()


async def ready_read(crowd: Crowd, within_s: float = 10) -> None:
    """Waits until the QUEUE_READY of everyone who heard ADMITTED has been read too."""
    for _ in range(int(within_s / 0.2)):
        if all(s in crowd.tally.ready_tokens for s in admitted(crowd)):
            return
        await asyncio.sleep(0.2)


def admitted(crowd: Crowd) -> list[str]:
    return [s for s, h in crowd.tally.heard.items() if h.status == pb.SESSION_STATUS_ADMITTED]


def summary_rows(crowd: Crowd, started: float) -> list[tuple[str, str]]:
    t, args = crowd.tally, crowd.args
    waits = [t.admitted_at[s] - t.joined_at[s] for s in t.admitted_at if s in t.joined_at]
    times = sorted(t.admitted_at.values())
    span = times[-1] - times[0] if len(times) > 1 else 0
    outcomes = Counter(t.outcomes.values())
    latency = [x * 1000 for x in t.join_latency]
    sold_out = f", sold out after {t.sold_out_at - started:.1f}s" if t.sold_out_at else ""
    return [
        ("joined", f"{len(t.joined_at)} ({t.join_errors} failed)"),
        ("admitted", f"{len(t.admitted_at)}  ({span and len(times) / span:.0f} per second)"),
        ("outcomes", ", ".join(f"{n} {k}" for k, n in outcomes.most_common())),
        ("told SOLD_OUT while in line", told_sold_out(crowd)),
        ("tickets sold", f"{t.tickets_bought} of {args.tickets}{sold_out}"),
        (
            "conversion",
            f"{outcomes['buy'] / max(len(t.admitted_at), 1):.0%} of admitted people bought",
        ),
        (
            "wait to admission",
            f"p50 {percentile(waits, 50):.1f}s  p90 {percentile(waits, 90):.1f}s"
            f"  p99 {percentile(waits, 99):.1f}s",
        ),
        (
            "join latency",
            f"p50 {percentile(latency, 50):.1f} ms  p99 {percentile(latency, 99):.1f} ms",
        ),
        *hearing_rows(t.heard, t.admitted_at),
        ("most in checkout at once", f"{t.most_in_checkout} of {args.max_concurrent} (sampled)"),
        ("total time", f"{time.time() - started:.1f}s"),
    ]


def told_sold_out(crowd: Crowd) -> str:
    """How many people still waiting heard SOLD_OUT (and how many pollers, admitted, heard it
    first: their next poll came after the last ticket sold)."""
    t = crowd.tally
    told = [s for s, h in t.heard.items() if h.status == pb.SESSION_STATUS_SOLD_OUT]
    late = sum(s in t.admitted_at for s in told)
    return f"{len(told) - late}" + (f" (and {late} admitted who polled after it)" if late else "")


def checks(crowd: Crowd) -> dict[str, bool]:
    t, args = crowd.tally, crowd.args
    outcomes = Counter(t.outcomes.values())
    heard = t.heard.values()
    return {
        "checkout never held more than max_concurrent people": t.most_in_checkout
        <= args.max_concurrent,
        "never sold more tickets than existed": t.tickets_bought <= args.tickets,
        "everyone who joined heard their final status": len(t.heard) == len(t.joined_at)
        and all(h.final_at for h in heard),
        "everyone who heard ADMITTED reached an outcome": len(t.outcomes) == len(admitted(crowd)),
        "every token heard is the one QUEUE_READY carried": not wrong_tokens(
            t.heard, t.ready_tokens
        ),
        "no errors": not any(k.startswith("error") for k in outcomes)
        and not t.join_errors
        and not any(h.error for h in heard),
    }


def summarize(crowd: Crowd, started: float) -> int:
    print("Summary")
    for name, value in summary_rows(crowd, started):
        print(f"  {name:<30} {value}")
    results = checks(crowd)
    for name, ok in results.items():
        print(f"  {'ok  ' if ok else 'FAIL'} {name}")
    return 0 if all(results.values()) else 1


async def show_stats(target: str, event_id: str, joined: int) -> None:
    """The stats service's view of the sale, once it has caught up with the stream."""
    async with grpc.aio.insecure_channel(target) as channel:
        stub = stats_grpc.StatsServiceStub(channel)
        request = stats_pb2.GetEventStatsRequest(event_id=event_id)
        figures = await stub.GetEventStats(request, timeout=10)
        for _ in range(60):  # caught up: everyone counted, nobody still waiting or in checkout
            if figures.joined == joined and not figures.queued_now and not figures.in_checkout_now:
                break
            await asyncio.sleep(0.5)
            figures = await stub.GetEventStats(request, timeout=10)
    w, c = figures.wait_seconds, figures.checkout_seconds
    print(
        f"\nThe stats service's view (grpcurl ... stats.v1.StatsService/GetEventStats):\n"
        f"  joined {figures.joined}, admitted {figures.admitted}, completed {figures.completed}, "
        f"expired {figures.expired}, cancelled {figures.cancelled}, left {figures.left}, "
        f"sold out in line {figures.sold_out_in_line}\n"
        f"  tickets {figures.tickets_sold} sold of {figures.tickets_total}, "
        f"sold out: {figures.sold_out}, conversion {figures.conversion_rate:.0%}\n"
        f"  wait p50/p90/p99 {w.p50:.1f}/{w.p90:.1f}/{w.p99:.1f}s, "
        f"time in checkout p50/p90 {c.p50:.1f}/{c.p90:.1f}s"
    )


if __name__ == "__main__":
    sys.exit(asyncio.run(run(parse_args())))
