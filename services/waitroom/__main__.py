"""Runs the waitroom service: `python -m waitroom`."""

import asyncio

from common.logging import configure_logging
from waitroom.config import Settings
from waitroom.server import serve


def main() -> None:
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
