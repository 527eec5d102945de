"""Runs the stats service: `python -m stats`."""

from common.process.lifecycle import run
from common.process.logging import configure_logging
from stats.config import Settings
from stats.server import serve


def main() -> None:
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    run(serve(settings))


if __name__ == "__main__":
    main()
