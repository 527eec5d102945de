"""Runs the checkout service: `python -m checkout`."""

from checkout.config import Settings
from checkout.server import serve
from common.process.lifecycle import run
from common.process.logging import configure_logging


def main() -> None:
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    run(serve(settings))


if __name__ == "__main__":
    main()
