"""Many open WatchQueueStatus streams from one asyncio client, about 1,000 per channel.

Each stream's messages are tallied in flat lists (no object per message): when its first and
its final came, its last position and status, and when its status or position last changed,
so the bench can say how long an admission took to reach everyone it moved.
"""

import asyncio
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import grpc

from waitroomapi.waitroom.v1 import waitroom_pb2 as pb
from waitroomapi.waitroom.v1 import waitroom_pb2_grpc as pb_grpc

PER_CHANNEL = 1000
WAVE = 5000  # streams opened at once; the next wave waits for their first messages
ADMITTED = pb.SessionStatus.Value("SESSION_STATUS_ADMITTED")
# channels of their own (no subchannel shared between them), keepalive answered as a client does
OPTIONS = (("grpc.use_local_subchannel_pool", 1),)


def raise_open_files() -> int:
    """The soft limit of open files up to the hard one (the server inherits it too)."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


@dataclass
class Tally:
    size: int
    messages: int = 0
    changes: int = 0  # messages whose position or status differed from the stream's last
    firsts: int = 0
    finals: int = 0
    errors: list[str] = field(default_factory=list)
    first_at: list[float] = field(init=False)
    changed_at: list[float] = field(init=False)
    position: list[int] = field(init=False)
    status: list[int] = field(init=False)
    final: list[bool] = field(init=False)
    expires_ms: list[int] = field(init=False)
    tokens: int = 0  # ADMITTED finals that carried a checkout token

    def __post_init__(self) -> None:
        n = self.size
        self.first_at, self.changed_at = [0.0] * n, [0.0] * n
        self.position, self.status = [-1] * n, [-1] * n
        self.final, self.expires_ms = [False] * n, [0] * n

    def record(self, i: int, message: pb.WatchQueueStatusResponse) -> None:
        now, status = time.time(), message.status
        self.messages += 1
        if not self.first_at[i]:
            self.first_at[i] = now
            self.firsts += 1
        elif status.position != self.position[i] or status.status != self.status[i]:
            self.changed_at[i] = now
            self.changes += 1
        self.position[i], self.status[i] = status.position, status.status
        if message.final:
            self.final[i] = True
            self.finals += 1
            if status.status == ADMITTED and status.checkout_token:
                self.tokens += 1
                self.expires_ms[i] = status.checkout_expires_at.ToMilliseconds()


class Streams:
    """Opens one stream per session id and tallies them until each ends."""

    def __init__(self, target: str, sessions: list[str]) -> None:
        self.target, self.sessions = target, sessions
        self.tally = Tally(len(sessions))
        self._channels: list[grpc.aio.Channel] = []
        self._tasks: list[asyncio.Task[None]] = []

    async def open(self, within_s: float = 300) -> float:
        """Opens every stream, WAVE at a time; returns the seconds until each had its first."""
        started = time.monotonic()
        count = len(self.sessions)
        self._channels = [
            grpc.aio.insecure_channel(self.target, options=OPTIONS)
            for _ in range(0, count, PER_CHANNEL)
        ]
        for start in range(0, count, WAVE):
            end = min(start + WAVE, count)
            for i in range(start, end):
                stub = pb_grpc.WaitroomServiceStub(self._channels[i // PER_CHANNEL])
                self._tasks.append(asyncio.create_task(self._watch(stub, i)))
            await self.until(lambda end=end: self.tally.firsts >= end, within_s)
        return time.monotonic() - started

    async def _watch(self, stub: pb_grpc.WaitroomServiceStub, i: int) -> None:
        request = pb.WatchQueueStatusRequest(session_id=self.sessions[i])
        try:
            async for message in stub.WatchQueueStatus(request):
                self.tally.record(i, message)
                if message.final:
                    return
            self.tally.errors.append(f"{i}: the stream ended without a final message")
        except grpc.aio.AioRpcError as error:
            self.tally.errors.append(f"{i}: {error.code().name} {error.details()}")

    async def until(self, done: Callable[[], bool], within_s: float) -> None:
        """Waits until done(); raises when a stream failed or after `within_s`."""
        tally, deadline = self.tally, time.monotonic() + within_s
        while not done():
            if tally.errors:
                raise AssertionError(f"streams: {len(tally.errors)} failed: {tally.errors[:3]}")
            if time.monotonic() > deadline:
                counts = f"{tally.firsts} firsts, {tally.finals} finals of {tally.size}"
                raise AssertionError(f"streams: not done within {within_s} s ({counts})")
            await asyncio.sleep(0.05)

    async def settled(self, quiet: float, within_s: float) -> float:
        """Waits until no status or position changed for `quiet` seconds."""
        deadline, last = time.monotonic() + within_s, (self.tally.changes, time.monotonic())
        while time.monotonic() - last[1] < quiet:
            if time.monotonic() > deadline:
                raise AssertionError(f"streams: still busy after {within_s} s")
            await asyncio.sleep(0.1)
            if self.tally.changes != last[0]:
                last = (self.tally.changes, time.monotonic())
        return last[1]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for channel in self._channels:
            await channel.close()
