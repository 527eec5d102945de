"""The baseline: the waitroom's gRPC API served the way the waitroom serves it, doing nothing.

Same Python, same grpc.aio server built by common.grpc_server, same event loop (uvloop) and the same
number of serving processes (`python -m bench.bare_server PORT [PROCESSES]`, SO_REUSEPORT when
several): the difference to the waitroom is exactly the waitroom's own work.
"""

import sys
from functools import partial

import grpc

from common.grpc_server import Health, bind, create_server
from common.lifecycle import freeze_startup_objects, run
from common.workers import die_with_parent, supervise
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


async def serve(port: int, shared: bool) -> None:
    health = Health(NAMES)
    server = create_server(health, NAMES, reuse_port=shared)
    pb_grpc.add_WaitroomServiceServicer_to_server(Bare(), server)
    bind(server, "127.0.0.1", port)
    await server.start()
    await health.start()
    await health.set_ready(True)
    freeze_startup_objects()  # as every service does once it is ready
    await server.wait_for_termination()


def worker(port: int, _index: int) -> None:
    die_with_parent()
    run(serve(port, shared=True))


def main(port: int, processes: int) -> int:
    if processes <= 1:
        run(serve(port, shared=False))
        return 0
    # spawned workers find the function by its module's import name, never by __main__
    from bench import bare_server

    return supervise(partial(bare_server.worker, port), processes, grace=5)


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 1))
