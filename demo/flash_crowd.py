"""`make run`: creates a demo event and sends a flash crowd through the running waitroom."""

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid

import grpc
from aiokafka import AIOKafkaConsumer, TopicPartition

from common.messages import from_json
from waitroomapi.events.v1 import events_pb2
from waitroomapi.waitroom.v1 import waitroom_pb2 as pb
from waitroomapi.waitroom.v1 import waitroom_pb2_grpc as pb_grpc


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=64, help="joins in flight at once")
    parser.add_argument("--max-concurrent", type=int, default=150, help="slots in checkout")
    parser.add_argument("--batch", type=int, default=150, help="admissions per cycle")
    parser.add_argument("--hold", type=int, default=2, help="checkout hold in seconds")
    parser.add_argument("--target", default="127.0.0.1:50051")
    parser.add_argument(
        "--kafka", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    )
    parser.add_argument("--timeout", type=float, default=300)
    return parser.parse_args()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


class Crowd:
    def __init__(self, args: argparse.Namespace, channel: grpc.aio.Channel, event_id: str) -> None:
        self.args = args
        self.event_id = event_id
        self.queue = pb_grpc.WaitroomServiceStub(channel)
        self.admin = pb_grpc.AdminServiceStub(channel)
        self.auth = (
            (
                "authorization",
                f"Bearer {os.environ.get('WAITROOM_ADMIN_TOKEN', 'dev-admin-token')}",
            ),
        )
        self.joined_at: dict[str, float] = {}
        self.join_latency: list[float] = []
        self.admitted_at: dict[str, float] = {}
        self.errors = 0
        self.most_in_checkout = 0
        self.last_view: pb.Event | None = None

    async def create_event(self) -> None:
        await self.admin.CreateEvent(
            pb.CreateEventRequest(
                event_id=self.event_id,
                max_concurrent=self.args.max_concurrent,
                batch_size=self.args.batch,
                checkout_ttl_seconds=self.args.hold,
                tickets=self.args.people,
            ),
            metadata=self.auth,
        )

    async def join_all(self) -> None:
        gate = asyncio.Semaphore(self.args.concurrency)

        async def join(n: int) -> None:
            async with gate:
                started = time.time()
                try:
                    reply = await self.queue.JoinQueue(
                        pb.JoinQueueRequest(user_id=f"fan-{n}", event_id=self.event_id), timeout=30
                    )
                except grpc.aio.AioRpcError:
                    self.errors += 1
                    return
                self.join_latency.append(time.time() - started)
                self.joined_at[reply.session_id] = started

        await asyncio.gather(*(join(n) for n in range(self.args.people)))

    async def watch_admissions(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                for record in records:
                    ready = from_json(record.value, events_pb2.QueueReady())
                    if ready.event_id == self.event_id:
                        self.admitted_at.setdefault(
                            ready.session_id, ready.admitted_at.ToMilliseconds() / 1000
                        )

    async def sample(self) -> None:
        while True:
            try:
                self.last_view = await self.admin.GetEvent(
                    pb.GetEventRequest(event_id=self.event_id), metadata=self.auth, timeout=5
                )
                self.most_in_checkout = max(self.most_in_checkout, self.last_view.processing_count)
            except grpc.aio.AioRpcError:
                pass
            await asyncio.sleep(0.2)

    def progress(self, started: float) -> str:
        view = self.last_view
        elapsed = time.time() - started
        return (
            f"{elapsed:6.1f}s  joined {len(self.joined_at):>6}/{self.args.people}  "
            f"waiting {view.queue_length if view else 0:>6}  "
            f"in checkout {view.processing_count if view else 0:>4}/{self.args.max_concurrent}  "
            f"admitted {len(self.admitted_at):>6}"
        )


async def kafka_tail(bootstrap: str) -> AIOKafkaConsumer:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    partitions = [
        TopicPartition("QUEUE_READY", p)
        for p in consumer.partitions_for_topic("QUEUE_READY") or {0, 1, 2}
    ]
    consumer.assign(partitions)
    await consumer.seek_to_end(*partitions)
    for tp in partitions:
        await consumer.position(tp)
    return consumer


async def main() -> int:
    args = parse_args()
    event_id = f"demo-{uuid.uuid4().hex[:8]}"
    tty = sys.stdout.isatty()
    async with grpc.aio.insecure_channel(args.target) as channel:
        crowd = Crowd(args, channel, event_id)
        await crowd.create_event()
        consumer = await kafka_tail(args.kafka)
        print(
            f"Flash crowd: {args.people} people join {event_id} "
            f"({args.max_concurrent} checkout slots, {args.batch} per cycle, {args.hold}s holds)"
        )
        started = time.time()
        watchers = [
            asyncio.create_task(crowd.watch_admissions(consumer)),
            asyncio.create_task(crowd.sample()),
        ]
        joining = asyncio.create_task(crowd.join_all())
        last_line = 0.0
        try:
            while len(crowd.admitted_at) < args.people - crowd.errors or not joining.done():
                if time.time() - started > args.timeout:
                    print("\ntimed out before everyone was admitted")
                    break
                await asyncio.sleep(0.25)
                if tty:
                    print("\r" + crowd.progress(started), end="", flush=True)
                elif time.time() - last_line >= 2:
                    print(crowd.progress(started), flush=True)
                    last_line = time.time()
            print(("\r" if tty else "") + crowd.progress(started))
        finally:
            for task in watchers:
                task.cancel()
            await asyncio.gather(*watchers, return_exceptions=True)
            await consumer.stop()
        return summarize(crowd, started)


def summarize(crowd: Crowd, started: float) -> int:
    waits = [
        crowd.admitted_at[s] - crowd.joined_at[s] for s in crowd.admitted_at if s in crowd.joined_at
    ]
    times = sorted(crowd.admitted_at.values())
    span = times[-1] - times[0] if len(times) > 1 else 0
    latency_ms = [x * 1000 for x in crowd.join_latency]
    rows = [
        ("joined", f"{len(crowd.joined_at)} ({crowd.errors} failed)"),
        ("admitted (QUEUE_READY seen)", f"{len(crowd.admitted_at)}"),
        ("admission rate", f"{len(times) / span:.0f} per second" if span else "-"),
        (
            "wait from join to admission",
            f"p50 {percentile(waits, 50):.1f}s  p90 {percentile(waits, 90):.1f}s  "
            f"p99 {percentile(waits, 99):.1f}s  max {max(waits, default=0):.1f}s",
        ),
        (
            "join latency",
            f"p50 {percentile(latency_ms, 50):.1f} ms  p99 {percentile(latency_ms, 99):.1f} ms",
        ),
        (
            "most in checkout at once",
            f"{crowd.most_in_checkout} of {crowd.args.max_concurrent} (sampled every 200 ms)",
        ),
        ("total time", f"{time.time() - started:.1f}s"),
    ]
    print("\nSummary")
    for name, value in rows:
        print(f"  {name:<30} {value}")
    ok = (
        len(crowd.admitted_at) == len(crowd.joined_at) == crowd.args.people
        and crowd.most_in_checkout <= crowd.args.max_concurrent
    )
    print("  " + ("everyone admitted, never above the limit" if ok else "INCOMPLETE: see above"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
