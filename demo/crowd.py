"""Simulated people: they join, watch (or poll) their place until admitted, then buy, cancel or
walk away."""

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
from demo.watchers import Heard, Listeners
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
    admitted_at: dict[str, float] = field(default_factory=dict)  # QUEUE_READY's admitted_at
    ready_tokens: dict[str, str] = field(default_factory=dict)  # the token QUEUE_READY carried
    heard: dict[str, Heard] = field(default_factory=dict)  # what reached each person
    outcomes: dict[str, str] = field(default_factory=dict)
    tickets_bought: int = 0
    join_errors: int = 0
    most_in_checkout: int = 0
    sold_out_at: float = 0.0


class Crowd:
    def __init__(
        self,
        args,
        listeners: Listeners,
        waitroom: grpc.aio.Channel,
        checkout: grpc.aio.Channel,
        event_id: str,
    ) -> None:
        self.args = args
        self.event_id = event_id
        self.listeners = listeners
        self.admin = pb_grpc.AdminServiceStub(waitroom)
        self.checkout = cpb_grpc.CheckoutServiceStub(checkout)
        self.auth = (("authorization", f"Bearer {ADMIN_TOKEN}"),)
        self.tally = Tally()
        self.view: pb.Event | None = None
        self.rng = random.Random(args.seed)

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

    async def run_all(self) -> None:
        """Everyone joins (so many at once), hears of their place until it is final, and acts
        on an admission."""
        gate = asyncio.Semaphore(self.args.concurrency)
        modes = [self.listeners.mode() for _ in range(self.args.people)]
        await asyncio.gather(*(self._person(n, modes[n], gate) for n in range(self.args.people)))

    async def _person(self, n: int, mode: str, gate: asyncio.Semaphore) -> None:
        async with gate:
            session_id = await self._join(n)
        if session_id is None:
            return
        heard = await self.listeners.listen(n, session_id, mode)
        self.tally.heard[session_id] = heard
        if heard.status == pb.SESSION_STATUS_ADMITTED and heard.token:
            await self._act(session_id, heard.token)

    async def _join(self, n: int) -> str | None:
        started = time.time()
        request = pb.JoinQueueRequest(user_id=f"fan-{n}", event_id=self.event_id)
        try:
            reply = await self.listeners.stub(n).JoinQueue(request, timeout=30)
        except grpc.aio.AioRpcError:
            self.tally.join_errors += 1
            return None
        self.tally.join_latency.append(time.time() - started)
        self.tally.joined_at[reply.session_id] = started
        return str(reply.session_id)

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
        self.tally.ready_tokens[ready.session_id] = ready.checkout_token

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
