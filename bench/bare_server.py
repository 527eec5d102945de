"""The baseline: the waitroom's gRPC API served the way the waitroom serves it, doing nothing.

Same Python, same grpc.aio server built by common.grpc_server, same event loop, one process:
the difference to the waitroom is exactly the waitroom's own work.
"""

import asyncio
import sys

import grpc

from common.grpc_server import Health, bind, create_server
from waitroomapi.waitroom.v1 import waitroom_pb2 as pb
from waitroomapi.waitroom.v1 import waitroom_pb2_grpc as pb_grpc

NAMES = tuple(s.full_name for s in pb.DESCRIPTOR.services_by_name.values())


class Bare(pb_grpc.WaitroomServiceServicer):
    async def JoinQueue(
        self, request: pb.JoinQueueRequest, context: grpc.aio.ServicerContext
    ) -> pb.JoinQueueResponse:
        return pb.JoinQueueResponse()

    async def GetQueueStatus(
        self, request: pb.GetQueueStatusRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetQueueStatusResponse:
        return pb.GetQueueStatusResponse()


async def main(port: int) -> None:
    health = Health(NAMES)
    server = create_server(health, NAMES, reuse_port=False)
    pb_grpc.add_WaitroomServiceServicer_to_server(Bare(), server)
    bind(server, "127.0.0.1", port)
    await server.start()
    await health.start()
    await health.set_ready(True)
    await server.wait_for_termination()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
