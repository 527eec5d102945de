"""The gRPC calls of scripts/stack.sh, made with the installed Python stubs instead of grpcurl."""

import argparse
import os
import sys
import time

import grpc

from common.process.grpc_server import health_of
from waitroomapi.waitroom.v1 import waitroom_pb2, waitroom_pb2_grpc


def health(port: int) -> str:
    # A new channel per check: several serving processes share a port, one per connection.
    return health_of(f"127.0.0.1:{port}")


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def wait(port: int, pid: int, timeout: float, in_a_row: int = 5) -> int:
    """0 once `in_a_row` fresh connections read SERVING; 1 if the process died; 2 on timeout."""
    serving, deadline = 0, time.monotonic() + timeout
    while time.monotonic() < deadline:
        if health(port) == "SERVING":
            serving += 1
            if serving >= in_a_row:
                return 0
            continue
        serving = 0
        if not alive(pid):
            return 1
        time.sleep(0.5)
    return 2


def create_event(port: int, event_id: str, tickets: int) -> int:
    """Creates the event unless it exists already."""
    token = os.environ.get("WAITROOM_ADMIN_TOKEN", "dev-admin-token")
    request = waitroom_pb2.CreateEventRequest(event_id=event_id, tickets=tickets)
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = waitroom_pb2_grpc.AdminServiceStub(channel)
        try:
            stub.CreateEvent(request, timeout=10, metadata=[("authorization", f"Bearer {token}")])
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.ALREADY_EXISTS:
                print(f"CreateEvent {event_id}: {error.code().name}", file=sys.stderr)
                return 1
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("health").add_argument("port", type=int)
    waiting = commands.add_parser("wait")
    waiting.add_argument("port", type=int)
    waiting.add_argument("pid", type=int)
    waiting.add_argument("--timeout", type=float, default=60)
    event = commands.add_parser("create-event")
    event.add_argument("event_id")
    event.add_argument("--tickets", type=int, default=500)
    event.add_argument("--port", type=int, default=50051)
    args = parser.parse_args(argv)
    if args.command == "health":
        status = health(args.port)
        print(status)
        return 0 if status == "SERVING" else 1
    if args.command == "wait":
        return wait(args.port, args.pid, args.timeout)
    return create_event(args.port, args.event_id, args.tickets)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
