"""The baseline: the waitroom's gRPC API served the way the waitroom serves it, doing nothing.

Same Python, same grpc.aio server built by common.process.grpc_server, same event loop
(uvloop) and the same number of serving processes (`python -m bench.bare_server PORT
[PROCESSES]`, SO_REUSEPORT when several): the difference to the waitroom is exactly
the waitroom's own work.

With `--redis URL` it is the floor instead: every call does the least any call that keeps
state must do, one script call that reads one key, sent the way the waitroom sends its own
(common.redis.batch, on the client common.redis.client builds). Nothing that reads Redis on
every call can serve faster than this, so its ratio to the bare server bounds the waitroom's.
"""

import argparse
import sys
from functools import partial

import grpc

from common.process.grpc_server import Health, bind, create_server
from common.process.lifecycle import freeze_startup_objects, run
from common.process.settings import CommonSettings
from common.process.workers import die_with_parent, supervise
from common.redis.batch import ScriptBatcher
from common.redis.client import connect
from waitroomapi.waitroom.v1 import waitroom_pb2 as pb
from waitroomapi.waitroom.v1 import waitroom_pb2_grpc as pb_grpc

NAMES = tuple(s.full_name for s in pb.DESCRIPTOR.services_by_name.values())
# One key read: less than any call of the waitroom's does (a join writes, a status reads several).
FLOOR_SCRIPT = "return redis.call('EXISTS', KEYS[1])"
FLOOR_KEY = "bench:floor"


class Bare(pb_grpc.WaitroomServiceServicer):
    async def JoinQueue(
        self, request: pb.JoinQueueRequest, context: grpc.aio.ServicerContext
    ) -> pb.JoinQueueResponse:
        return pb.JoinQueueResponse()

    async def GetQueueStatus(
        self, request: pb.GetQueueStatusRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetQueueStatusResponse:
        return pb.GetQueueStatusResponse()


class Floor(pb_grpc.WaitroomServiceServicer):
    """Each call: one batched script call to Redis, then an empty reply."""

    def __init__(self, redis_url: str) -> None:
        self._redis = connect(CommonSettings(redis_url=redis_url))
        self._batch = ScriptBatcher(self._redis)
        self._script = self._redis.register_script(FLOOR_SCRIPT)

    async def start(self) -> None:
        await self._redis.script_load(FLOOR_SCRIPT)

    async def JoinQueue(
        self, request: pb.JoinQueueRequest, context: grpc.aio.ServicerContext
    ) -> pb.JoinQueueResponse:
        await self._batch.call(self._script, (FLOOR_KEY,), ())
        return pb.JoinQueueResponse()

    async def GetQueueStatus(
        self, request: pb.GetQueueStatusRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetQueueStatusResponse:
        await self._batch.call(self._script, (FLOOR_KEY,), ())
        return pb.GetQueueStatusResponse()


async def serve(port: int, shared: bool, redis_url: str | None) -> None:
    health = Health(NAMES)
    server = create_server(health, NAMES, reuse_port=shared)
    servicer: pb_grpc.WaitroomServiceServicer = Bare()
    if redis_url:
        floor = Floor(redis_url)
        await floor.start()
        servicer = floor
    pb_grpc.add_WaitroomServiceServicer_to_server(servicer, server)
    bind(server, "127.0.0.1", port)
    await server.start()
    await health.start()
    await health.set_ready(True)
    freeze_startup_objects()  # as every service does once it is ready
    await server.wait_for_termination()


def worker(port: int, redis_url: str | None, _index: int) -> None:
    die_with_parent()
    run(serve(port, shared=True, redis_url=redis_url))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bare_server", description=__doc__)
    parser.add_argument("port", type=int)
    parser.add_argument("processes", type=int, nargs="?", default=1)
    parser.add_argument("--redis", metavar="URL", help="serve as the floor, against this Redis")
    args = parser.parse_args(argv)
    if args.processes <= 1:
        run(serve(args.port, shared=False, redis_url=args.redis))
        return 0
    # spawned workers find the function by its module's import name, never by __main__
    from bench import bare_server

    return supervise(partial(bare_server.worker, args.port, args.redis), args.processes, grace=5)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
