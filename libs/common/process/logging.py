"""One JSON log configuration, applied only in a service's main()."""

import logging
import sys

from pythonjsonlogger.json import JsonFormatter


def configure_logging(level: str, fmt: str = "json") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(
            JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s", timestamp=False)
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-5s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiokafka logs every broker hiccup at ERROR and retries itself; keep its noise down.
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, root.level))
