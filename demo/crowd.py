"""Simulated people: they join, wait for QUEUE_READY, then buy, cancel or walk away."""

import asyncio
import os
import random
import time
from dataclasses import dataclass, field

import grpc
from aiokafka import AIOKafkaConsumer, TopicPartition
from google.protobuf import json_format

from common.kafka import topics
from common.kafka.messages import from_json
from waitroomapi.checkout.v1 import checkout_pb2 as cpb
from waitroomapi.checkout.v1 import checkout_pb2_grpc as cpb_grpc
from waitroomapi.events.v1 import events_pb2
from waitroomapi.waitroom.v1 import waitroom_pb2 as pb
from waitroomapi.waitroom.v1 import waitroom_pb2_grpc as pb_grpc

ADMIN_TOKEN = os.environ.get("WAITROOM_ADMIN_TOKEN", "dev-admin-token")
CHOICES = ("buy",) * 7 + ("cancel",) + ("walk away",) * 2


@dataclass
class Tally:
    joined_at: dict[str, float] = field(default_factory=dict)
    join_latency: list[float] = field(default_factory=list)
    admitted_at: dict[str, float] = field(default_factory=dict)
    outcomes: dict[str, str] = field(default_factory=dict)
    tickets_bought: int = 0
    join_errors: int = 0
    most_in_checkout: int = 0
    sold_out_at: float = 0.0


class Crowd:
    def __init__(
        self, args, waitroom: grpc.aio.Channel, checkout: grpc.aio.Channel, event_id: str
    ) -> None:
        self.args = args
        self.event_id = event_id
        self.queue = pb_grpc.WaitroomServiceStub(waitroom)
        self.admin = pb_grpc.AdminServiceStub(waitroom)
        self.checkout = cpb_grpc.CheckoutServiceStub(checkout)
        self.auth = (("authorization", f"Bearer {ADMIN_TOKEN}"),)
        self.tally = Tally()
        self.view: pb.Event | None = None
        self.rng = random.Random(args.seed)
        self._acting: set[asyncio.Task[None]] = set()

    async def create_event(self) -> None:
        await self.admin.CreateEvent(
            pb.CreateEventRequest(
                event_id=self.event_id,
                max_concurrent=self.args.max_concurrent,
                batch_size=self.args.batch,
                checkout_ttl_seconds=self.args.hold,
                tickets=self.args.tickets,
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
                    self.tally.join_errors += 1
                    return
                self.tally.join_latency.append(time.time() - started)
                self.tally.joined_at[reply.session_id] = started

        await asyncio.gather(*(join(n) for n in range(self.args.people)))

    async def watch_kafka(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                for record in records:
                    try:
                        self._on_record(record.topic, record.value or b"")
                    except (json_format.ParseError, ValueError):
                        continue  # not ours: the shared topics carry the tests' poison records

    def _on_record(self, topic: str, value: bytes) -> None:
        if topic == topics.EVENT_SOLD_OUT:
            if from_json(value, events_pb2.EventSoldOut()).event_id == self.event_id:
                self.tally.sold_out_at = self.tally.sold_out_at or time.time()
            return
        ready = from_json(value, events_pb2.QueueReady())
        if ready.event_id != self.event_id or ready.session_id in self.tally.admitted_at:
            return
        self.tally.admitted_at[ready.session_id] = ready.admitted_at.ToMilliseconds() / 1000
        task = asyncio.create_task(self._act(ready.session_id, ready.checkout_token))
        self._acting.add(task)
        task.add_done_callback(self._acting.discard)

    async def _act(self, session_id: str, token: str) -> None:
        """One admitted person: thinks, then buys, cancels, or walks away (the hold expires)."""
        await asyncio.sleep(self.rng.uniform(0.2, 1.0))
        choice = self.rng.choice(CHOICES)
        try:
            hold = await self._tickets_held(token, wait=choice != "walk away")
            if hold.status != cpb.HOLD_STATUS_HELD or hold.quantity == 0:
                choice = "nothing left" if choice != "walk away" else choice
            elif choice == "buy":
                order = await self.checkout.CompletePurchase(
                    cpb.CompletePurchaseRequest(
                        checkout_token=token,
                        quantity=self.rng.randint(1, min(2, hold.quantity)),
                        payment_reference=f"pay-{session_id}",
                    )
                )
                self.tally.tickets_bought += order.quantity
            elif choice == "cancel":
                await self.checkout.CancelCheckout(cpb.CancelCheckoutRequest(checkout_token=token))
        except grpc.aio.AioRpcError as error:
            choice = f"error: {error.code().name}"
        self.tally.outcomes[session_id] = choice

    async def _tickets_held(self, token: str, wait: bool) -> cpb.Checkout:
        """The hold; with every ticket held by others, wait for some to come back."""
        request = cpb.GetCheckoutRequest(checkout_token=token)
        hold = await self.checkout.GetCheckout(request)
        deadline = hold.expires_at.ToMilliseconds() / 1000 - 0.5
        while wait and hold.status == cpb.HOLD_STATUS_HELD and hold.quantity == 0:
            if time.time() >= deadline:
                break  # the hold runs out with nothing: the person walks away
            await asyncio.sleep(0.25)
            hold = await self.checkout.GetCheckout(request)
        return hold

    async def sample(self) -> None:
        while True:
            try:
                self.view = await self.admin.GetEvent(
                    pb.GetEventRequest(event_id=self.event_id), metadata=self.auth, timeout=5
                )
                self.tally.most_in_checkout = max(
                    self.tally.most_in_checkout, self.view.processing_count
                )
            except grpc.aio.AioRpcError:
                pass
            await asyncio.sleep(0.2)

    async def told_sold_out(self) -> int:
        """How many people still waiting read SOLD_OUT (asked once the event sold out)."""
        waiting = [s for s in self.tally.joined_at if s not in self.tally.admitted_at]
        statuses = await asyncio.gather(
            *(
                self.queue.GetQueueStatus(pb.GetQueueStatusRequest(session_id=s), timeout=10)
                for s in waiting
            )
        )
        return sum(s.status == pb.SESSION_STATUS_SOLD_OUT for s in statuses)

    def settled(self) -> bool:
        return len(self.tally.outcomes) == len(self.tally.admitted_at) and not self._acting


async def kafka_tail(bootstrap: str) -> AIOKafkaConsumer:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    partitions = [
        TopicPartition(topic, p)
        for topic in (topics.QUEUE_READY, topics.EVENT_SOLD_OUT)
        for p in consumer.partitions_for_topic(topic) or {0, 1, 2}
    ]
    consumer.assign(partitions)
    await consumer.seek_to_end(*partitions)
    for tp in partitions:
        await consumer.position(tp)
    return consumer
