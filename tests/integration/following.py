"""A person who follows their status through WatchQueueStatus as a client should: when a
stream breaks it reconnects to the next address it knows, after the server's `retry-after-ms`
when there is one (a shutdown), until a final status."""

import asyncio
import random
import time
from collections import Counter

import grpc

from waitroomapi.waitroom.v1 import waitroom_pb2 as pb
from waitroomapi.waitroom.v1 import waitroom_pb2_grpc as pb_grpc

GIVE_UP = {grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT}


def retry_after(error: grpc.aio.AioRpcError) -> float | None:
    """The server's advice in seconds (a shutdown sends it), None when it gave none."""
    value = dict(error.trailing_metadata() or ()).get("retry-after-ms")
    return int(value) / 1000 if value else None


class Follower:
    def __init__(self, channels: list[grpc.aio.Channel], session_id: str, seed: int = 0) -> None:
        """channels: the addresses this client knows, the first one first."""
        self.stubs = [pb_grpc.WaitroomServiceStub(c) for c in channels]
        self.session_id = session_id
        self.messages: list[tuple[int, pb.WatchQueueStatusResponse]] = []  # (address, message)
        self.codes: Counter[str] = Counter()  # why its streams ended without a final status
        self.advised: list[float | None] = []  # retry-after of each break
        self.broken_at: list[float] = []
        self.reconnected_at: list[float] = []  # the first message of each stream after a break
        self.address = 0
        self.final: pb.WatchQueueStatusResponse | None = None
        self._fresh = asyncio.Event()  # the stream open now has sent a message
        self._again = asyncio.Event()  # a stream opened after a break has sent a message
        self._first_again = 0  # that message's index
        self._rng = random.Random(seed)
        self.task = asyncio.create_task(self._follow())

    async def _follow(self) -> None:
        request = pb.WatchQueueStatusRequest(session_id=self.session_id)
        while self.final is None:
            call = self.stubs[self.address % len(self.stubs)].WatchQueueStatus(request)
            try:
                async for message in call:
                    self._heard(message)
            except grpc.aio.AioRpcError as error:
                self.codes[error.code().name] += 1
                if error.code() in GIVE_UP:
                    return
                self.advised.append(retry_after(error))
            if self.final is None:
                self._fresh.clear()
                self.broken_at.append(time.monotonic())
                self.address += 1
                pause = self.advised[-1] if self.advised and self.advised[-1] else 0.1
                await asyncio.sleep(self._rng.uniform(0, pause))

    def _heard(self, message: pb.WatchQueueStatusResponse) -> None:
        if len(self.broken_at) > len(self.reconnected_at):
            self.reconnected_at.append(time.monotonic())
            if not self._again.is_set():
                self._first_again = len(self.messages)
                self._again.set()
        self.messages.append((self.address % len(self.stubs), message))
        self._fresh.set()
        if message.final:
            self.final = message

    def latest(self) -> pb.WatchQueueStatusResponse | None:
        return self.messages[-1][1] if self.messages else None

    async def heard(self, within: float = 30) -> pb.WatchQueueStatusResponse:
        """The first message of the stream open now (waits for one)."""
        await asyncio.wait_for(self._fresh.wait(), within)
        return self.messages[-1][1]

    async def reconnected(self, within: float = 30) -> pb.WatchQueueStatusResponse:
        """The first message after the first break (waits for it)."""
        await asyncio.wait_for(self._again.wait(), within)
        return self.messages[self._first_again][1]

    async def done(self, within: float) -> None:
        await asyncio.wait_for(asyncio.shield(self.task), within)

    def cancel(self) -> None:
        self.task.cancel()


def percentiles(seconds: list[float]) -> str:
    ordered = sorted(seconds)
    if not ordered:
        return "none"

    def ms(share: float) -> str:
        return f"{ordered[round(share * (len(ordered) - 1))] * 1000:.0f} ms"

    return f"p50 {ms(0.5)}, p99 {ms(0.99)}, max {ms(1)}"
