"""The load driver: people who join, read their status, and once admitted buy, cancel or walk away.

Real gRPC clients against the stack, spread over both waitroom replicas. A call that fails is
retried the way a browser would (a join with the same user, so it returns the same session).
"""

import asyncio
import random
import time
from dataclasses import dataclass

import grpc

from drills import cluster
from drills.people import Person, Tally
from waitroomapi.checkout.v1 import checkout_pb2 as cpb
from waitroomapi.checkout.v1 import checkout_pb2_grpc as cpb_grpc
from waitroomapi.waitroom.v1 import waitroom_pb2 as pb
from waitroomapi.waitroom.v1 import waitroom_pb2_grpc as pb_grpc

ENDED = {
    pb.SESSION_STATUS_COMPLETED,
    pb.SESSION_STATUS_EXPIRED,
    pb.SESSION_STATUS_CANCELLED,
    pb.SESSION_STATUS_LEFT,
    pb.SESSION_STATUS_SOLD_OUT,
}
# What an admitted person does: most buy, some cancel, some walk away (their hold expires).
CHOICES = ("buy",) * 6 + ("cancel",) * 2 + ("walk away",) * 2


@dataclass
class Shape:
    rate: float = 15.0  # joins a second
    seconds: float = 40.0
    poll: float = 1.0  # status reads a second per waiting person
    deadline: float = 5.0  # each call's deadline
    leave_share: float = 0.03  # people who leave the line before they are admitted
    flash: int = 0  # people who all join at once, at the start


class Load:
    def __init__(self, event_id: str, shape: Shape, seed: int = 2026) -> None:
        self.event_id, self.shape = event_id, shape
        self.tally = Tally()
        self.rng = random.Random(seed)
        self._channels = [grpc.aio.insecure_channel(a) for a in cluster.WAITROOMS]
        self._queues = [pb_grpc.WaitroomServiceStub(c) for c in self._channels]
        self._checkout_channel = grpc.aio.insecure_channel(cluster.CHECKOUT)
        self.checkout = cpb_grpc.CheckoutServiceStub(self._checkout_channel)
        self._tasks: set[asyncio.Task[None]] = set()
        self.stopping = False
        self.started = time.monotonic()

    def queue(self) -> pb_grpc.WaitroomServiceStub:
        return self.rng.choice(self._queues)

    async def call(self, method: str, coroutine_of, deadline: float | None = None):
        """One gRPC call, counted; None when it failed."""
        limit = deadline or self.shape.deadline
        started = time.monotonic()
        try:
            reply = await coroutine_of(limit)
        except grpc.aio.AioRpcError as error:
            self.tally.failed(method, error)
            return None
        finally:
            if time.monotonic() - started > 2 * limit + 1:
                self.tally.slow_calls += 1
        self.tally.ok(method)
        return reply

    async def run(self) -> None:
        """Joins at the shape's rate (after a flash crowd, if any) for its seconds."""
        for n in range(self.shape.flash):
            self._spawn(f"flash-{n}")
        started, n = time.monotonic(), 0
        while not self.stopping and time.monotonic() - started < self.shape.seconds:
            self._spawn(f"fan-{n}")
            n += 1
            await asyncio.sleep(self.rng.expovariate(self.shape.rate))

    def _spawn(self, user: str) -> None:
        person = Person(f"{user}-{self.event_id}")
        self.tally.people.append(person)
        task = asyncio.create_task(self._live(person))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def settle(self, within: float) -> int:
        """Waits for every person to reach an end; returns how many had not."""
        deadline = time.monotonic() + within
        while self._tasks and time.monotonic() < deadline:  # noqa: ASYNC110 (many tasks)
            await asyncio.sleep(0.5)
        left = len(self._tasks)
        for task in list(self._tasks):
            task.cancel()
        return left

    async def close(self) -> None:
        self.stopping = True
        await self.settle(0)
        for channel in [*self._channels, self._checkout_channel]:
            await channel.close()

    async def _live(self, person: Person) -> None:
        if not await self._join(person):
            return
        leaves = self.rng.random() < self.shape.leave_share
        while not self.stopping:
            await asyncio.sleep(self.rng.uniform(0.5, 1.5) / self.shape.poll)
            status = await self._status(person)
            if status is None:
                continue
            person.outcome = pb.SessionStatus.Name(status.status)
            if status.status in ENDED:
                return
            if status.status == pb.SESSION_STATUS_ADMITTED and not person.admitted:
                person.admitted = True
                await self.act(person, status.checkout_token)
            elif leaves and status.status == pb.SESSION_STATUS_QUEUED:
                await self._leave(person)

    async def _join(self, person: Person) -> bool:
        request = pb.JoinQueueRequest(user_id=person.user_id, event_id=self.event_id)
        person.join_started = time.monotonic()
        while not self.stopping:
            reply = await self.call(
                "JoinQueue", lambda t: self.queue().JoinQueue(request, timeout=t)
            )
            if reply is not None:
                person.session_id, person.join_acknowledged = reply.session_id, time.monotonic()
                return True
            await asyncio.sleep(self.rng.uniform(0.2, 1.0))
        return False

    async def _status(self, person: Person) -> pb.GetQueueStatusResponse | None:
        request = pb.GetQueueStatusRequest(session_id=person.session_id)
        return await self.call(
            "GetQueueStatus", lambda t: self.queue().GetQueueStatus(request, timeout=t)
        )

    async def _leave(self, person: Person) -> None:
        request = pb.LeaveQueueRequest(session_id=person.session_id)
        await self.call("LeaveQueue", lambda t: self.queue().LeaveQueue(request, timeout=t))

    async def act(self, person: Person, token: str) -> None:
        """Thinks a moment, then buys one ticket, cancels, or walks away (the hold expires)."""
        person.choice = self.rng.choice(CHOICES)
        await asyncio.sleep(self.rng.uniform(0.2, 0.8))
        if person.choice == "buy":
            await self._buy(person, token)
        elif person.choice == "cancel":
            request = cpb.CancelCheckoutRequest(checkout_token=token)
            await self._until_done(
                "CancelCheckout", lambda t: self.checkout.CancelCheckout(request, timeout=t)
            )

    async def _buy(self, person: Person, token: str) -> None:
        request = cpb.CompletePurchaseRequest(
            checkout_token=token, quantity=1, payment_reference=f"pay-{person.user_id}"
        )
        order = await self._until_done(
            "CompletePurchase", lambda t: self.checkout.CompletePurchase(request, timeout=t)
        )
        if order is not None:
            person.order_id = order.order_id
            self.tally.bought += order.quantity

    async def _until_done(self, method: str, coroutine_of):
        """Retried while the failure is one a retry can cure (an outage), at most 10 times."""
        for _ in range(10):
            try:
                reply = await coroutine_of(self.shape.deadline)
            except grpc.aio.AioRpcError as error:
                self.tally.failed(method, error)
                if error.code() not in (
                    grpc.StatusCode.UNAVAILABLE,
                    grpc.StatusCode.DEADLINE_EXCEEDED,
                ):
                    return None
                await asyncio.sleep(0.5)
                continue
            self.tally.ok(method)
            return reply
        return None
