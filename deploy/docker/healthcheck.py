"""Docker HEALTHCHECK: exits 0 when the image's service reports "" SERVING on its gRPC port."""

import importlib
import os
import sys

from common.process.grpc_server import health_of


def grpc_port(service: str) -> int:
    """The port the service serves, read from its own Settings (environment, then default)."""
    settings = importlib.import_module(f"{service}.config").Settings()
    return int(getattr(settings, f"{service}_grpc_port"))


def main(service: str) -> int:
    status = health_of(f"127.0.0.1:{grpc_port(service)}")
    if status != "SERVING":
        print(f"health check: {status}", file=sys.stderr)
    return 0 if status == "SERVING" else 1


if __name__ == "__main__":
    sys.exit(main(os.environ["SERVICE"]))
