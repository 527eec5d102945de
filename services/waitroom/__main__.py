"""Runs the waitroom service: `python -m waitroom`, on one process or one per core."""

import sys

from common.process.lifecycle import run
from common.process.logging import configure_logging
from common.process.workers import RestartPolicy, serving_processes, supervise
from common.tokens.signing import load_or_create_private_key
from waitroom.config import Settings
from waitroom.server import serve, serve_worker


def main() -> None:
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    count = serving_processes(settings.waitroom_serving_processes)
    if count == 1:
        run(serve(settings))
        return
    if settings.waitroom_signing_key is None:
        # made once here, or each worker would make a key of its own
        load_or_create_private_key(settings.waitroom_signing_key_file)
    grace = (settings.grpc_grace + settings.queue_shutdown_timeout).total_seconds() + 5
    policy = RestartPolicy(
        settings.waitroom_restart_limit, settings.waitroom_restart_window.total_seconds()
    )
    sys.exit(supervise(serve_worker, count, grace, policy))


if __name__ == "__main__":
    main()
