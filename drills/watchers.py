"""A crowd that follows its place through WatchQueueStatus instead of polling: one stream per
person, about 1,000 streams on a channel, and a stream that breaks reconnects (after a pause of
up to JITTER) to the next address it knows. Once ADMITTED, each acts as the load's people do."""

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field

import grpc

from drills.load import Load
from drills.people import Person
from waitroomapi.waitroom.v1 import waitroom_pb2 as pb
from waitroomapi.waitroom.v1 import waitroom_pb2_grpc as pb_grpc

JITTER = 0.5  # seconds: a broken stream reconnects after a random pause up to this long
HOPELESS = {grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT}


@dataclass(eq=False)
class Watcher:
    person: Person
    channel: int  # its channel on each address
    address: int = 0  # which address it watches through now
    streams: int = 0  # streams opened
    messages: int = 0
    broken: bool = False  # its stream broke; the next message is the first of a new stream
    reconnected_at: list[float] = field(default_factory=list)  # first message after a break
    token: str = ""  # the token ADMITTED carried
    hold_left: float = 0.0  # seconds of the hold left when ADMITTED arrived
    final: str = ""  # the final status (or the code that made reconnecting hopeless)
    codes: Counter[str] = field(default_factory=Counter)  # why its streams broke
    broke_at: list[float] = field(default_factory=list)  # streams that ended before a final
    after_final: int = 0  # streams that broke after their final status (nothing to reconnect)


class Crowd:
    """Watchers over channel groups, one group per address; watchers[i] uses channel i % n."""

    def __init__(self, load: Load, groups: list[list[grpc.aio.Channel]], seed: int = 7) -> None:
        self.load, self.groups = load, groups
        self.stubs = [[pb_grpc.WaitroomServiceStub(c) for c in group] for group in groups]
        self.watchers: list[Watcher] = []
        self.rng = random.Random(seed)
        self._tasks: list[asyncio.Task[None]] = []

    async def join(self, count: int, prefix: str, concurrency: int = 100) -> None:
        """count people join (retried until they are in), over both waitroom replicas."""
        gate = asyncio.Semaphore(concurrency)

        async def one(n: int) -> None:
            person = Person(f"{prefix}-{n}-{self.load.event_id}")
            request = pb.JoinQueueRequest(user_id=person.user_id, event_id=self.load.event_id)
            person.join_started = time.monotonic()
            async with gate:
                while not person.session_id:
                    reply = await self.load.call(
                        "JoinQueue", lambda t: self.load.queue().JoinQueue(request, timeout=t)
                    )
                    person.session_id = reply.session_id if reply is not None else ""
            person.join_acknowledged = time.monotonic()
            self.load.tally.people.append(person)
            self.watchers.append(Watcher(person, n % len(self.groups[0])))

        await asyncio.gather(*(one(n) for n in range(count)))

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._follow(w)) for w in self.watchers]

    def reconnected(self, since: float) -> int:
        """Watchers whose stream broke since then and that heard on a new one since."""
        return sum(1 for w in self.watchers if w.reconnected_at and w.reconnected_at[-1] >= since)

    def open_streams(self) -> int:
        return sum(1 for w in self.watchers if w.messages and not w.final and not w.broken)

    async def finished(self, within: float) -> int:
        """Waits until every watcher has its final status and acted; how many had not."""
        _, pending = await asyncio.wait(self._tasks, timeout=within)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        return len(pending)

    async def _follow(self, w: Watcher) -> None:
        request = pb.WatchQueueStatusRequest(session_id=w.person.session_id)
        while not w.final:
            group = self.stubs[w.address % len(self.stubs)]
            call = group[w.channel % len(group)].WatchQueueStatus(request)
            w.streams += 1
            try:
                async for message in call:
                    self._heard(w, message)
            except grpc.aio.AioRpcError as error:
                w.codes[error.code().name] += 1
                w.after_final += bool(w.final)  # the end of a stream that had said it all
                if error.code() in HOPELESS:
                    w.final = error.code().name
                    return
            if not w.final:  # broken, or ended without a final status: the next address
                w.broke_at.append(time.monotonic())
                w.broken, w.address = True, w.address + 1
                await asyncio.sleep(self.rng.uniform(0, JITTER))
        if w.token:
            w.person.admitted = True
            await self.load.act(w.person, w.token)

    def _heard(self, w: Watcher, message: pb.WatchQueueStatusResponse) -> None:
        w.messages += 1
        if w.broken:
            w.broken = False
            w.reconnected_at.append(time.monotonic())
        w.person.outcome = pb.SessionStatus.Name(message.status.status)
        if message.status.status == pb.SESSION_STATUS_ADMITTED:
            w.token = message.status.checkout_token
            expires = message.status.checkout_expires_at.ToMilliseconds() / 1000
            w.hold_left = expires - time.time()
        if message.final:
            w.final = w.person.outcome.removeprefix("SESSION_STATUS_")

    async def close(self) -> None:
        for group in self.groups:
            for channel in group:
                await channel.close()
