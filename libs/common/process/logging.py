"""One JSON log configuration, applied only in a service's main()."""

import logging
import sys

from aiokafka.errors import GroupCoordinatorNotAvailableError
from pythonjsonlogger.json import JsonFormatter


class CoordinatorElection(logging.Filter):
    """Logs aiokafka's "no group coordinator yet" as a WARNING, not an ERROR.

    A fresh broker elects the coordinator of a consumer group while the first consumers
    start; aiokafka logs every lookup in the meantime at ERROR and retries by itself.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.ERROR and record.name.startswith("aiokafka"):
            args = record.args if isinstance(record.args, tuple) else ()
            if any(isinstance(arg, GroupCoordinatorNotAvailableError) for arg in args):
                record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def configure_logging(level: str, fmt: str = "json") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(
            JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s", timestamp=False)
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-5s %(name)s %(message)s"))
    handler.addFilter(CoordinatorElection())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiokafka logs every broker hiccup at ERROR and retries itself; keep its noise down.
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, root.level))
