"""The streams' baseline: WatchQueueStatus served as the waitroom serves it, doing nothing else.

One process, the same grpc.aio server (common.process.grpc_server) and event loop. Each stream
gets a first message at once, the same message again every HEARTBEAT seconds (as the
waitroom's keepalive does far back in line), and a final one when any LeaveQueue call comes:
what gRPC itself costs per open stream and per message sent (`python -m bench.bare_streams
PORT`).
"""

import asyncio
import sys
from collections.abc import AsyncIterator

import grpc

from bench.bare_server import NAMES, Bare
from common.process.grpc_server import Health, bind, create_server
from common.process.lifecycle import freeze_startup_objects, run
from waitroomapi.waitroom.v1 import waitroom_pb2 as pb
from waitroomapi.waitroom.v1 import waitroom_pb2_grpc as pb_grpc

HEARTBEAT = 20.0  # WATCH_MAX_SILENCE's default
QUEUED = pb.SessionStatus.Value("SESSION_STATUS_QUEUED")
CLOSED = pb.EventState.Value("EVENT_STATE_CLOSED")


class BareWatch(Bare):
    def __init__(self) -> None:
        self._ended = asyncio.Event()

    async def WatchQueueStatus(
        self, request: pb.WatchQueueStatusRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.WatchQueueStatusResponse]:
        status = pb.GetQueueStatusResponse(status=QUEUED, position=1, queue_length=1)
        within = int(HEARTBEAT)
        yield pb.WatchQueueStatusResponse(status=status, next_update_within_seconds=within)
        while not self._ended.is_set():
            try:
                await asyncio.wait_for(self._ended.wait(), HEARTBEAT)
            except TimeoutError:
                yield pb.WatchQueueStatusResponse(status=status, next_update_within_seconds=within)
        status.event_state = CLOSED
        yield pb.WatchQueueStatusResponse(status=status, final=True)

    async def LeaveQueue(
        self, request: pb.LeaveQueueRequest, context: grpc.aio.ServicerContext
    ) -> pb.LeaveQueueResponse:
        """Ends every stream with its final message."""
        self._ended.set()
        return pb.LeaveQueueResponse()


async def serve(port: int) -> None:
    health = Health(NAMES)
    server = create_server(health, NAMES, reuse_port=False)
    pb_grpc.add_WaitroomServiceServicer_to_server(BareWatch(), server)
    bind(server, "127.0.0.1", port)
    await server.start()
    await health.start()
    await health.set_ready(True)
    freeze_startup_objects()
    await server.wait_for_termination()


if __name__ == "__main__":
    run(serve(int(sys.argv[1])))
    sys.exit(0)
