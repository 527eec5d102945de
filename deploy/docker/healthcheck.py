"""Docker HEALTHCHECK: exits 0 when the image's service reports "" SERVING on its gRPC port."""

import importlib
import os
import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def grpc_port(service: str) -> int:
    """The port the service serves, read from its own Settings (environment, then default)."""
    settings = importlib.import_module(f"{service}.config").Settings()
    return int(getattr(settings, f"{service}_grpc_port"))


def main(service: str) -> int:
    with grpc.insecure_channel(f"127.0.0.1:{grpc_port(service)}") as channel:
        request = health_pb2.HealthCheckRequest(service="")
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(request, timeout=2)
        except grpc.RpcError as error:
            print(f"health check failed: {error.code().name}", file=sys.stderr)
            return 1
    return 0 if reply.status == health_pb2.HealthCheckResponse.SERVING else 1


if __name__ == "__main__":
    sys.exit(main(os.environ["SERVICE"]))
