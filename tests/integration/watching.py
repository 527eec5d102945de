"""A WatchQueueStatus stream read in the background, each message with when it arrived."""

import asyncio
import time

import grpc

from waitroomapi.waitroom.v1 import waitroom_pb2 as pb
from waitroomapi.waitroom.v1 import waitroom_pb2_grpc as pb_grpc


class Watching:
    def __init__(self, channel: grpc.aio.Channel, session_id: str) -> None:
        stub = pb_grpc.WaitroomServiceStub(channel)
        self.call = stub.WatchQueueStatus(pb.WatchQueueStatusRequest(session_id=session_id))
        self.messages: list[tuple[float, pb.WatchQueueStatusResponse]] = []
        self.error: grpc.aio.AioRpcError | None = None
        self.ended = asyncio.Event()
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for message in self.call:
                self.messages.append((time.time(), message))
        except grpc.aio.AioRpcError as error:
            self.error = error
        finally:
            self.ended.set()

    async def first(
        self, matches, within: float = 30, since: int = 0
    ) -> tuple[float, pb.WatchQueueStatusResponse]:
        """The first message from the `since`-th on that matches, and when it arrived."""
        async with asyncio.timeout(within):
            while True:
                for arrived, message in self.messages[since:]:
                    if matches(message):
                        return arrived, message
                if self.ended.is_set():
                    raise AssertionError(f"the stream ended ({self.error}) without a match")
                await asyncio.sleep(0.01)

    async def end(self, within: float = 30) -> None:
        async with asyncio.timeout(within):
            await self.ended.wait()

    def cancel(self) -> None:
        self.call.cancel()


def status_is(status):
    return lambda m: m.status.status == status


def state_is(state):
    return lambda m: m.status.event_state == state
