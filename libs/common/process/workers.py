"""Several serving processes on one port: a supervisor that starts them and stops them together.

gRPC binds with SO_REUSEPORT on purpose here, so the kernel spreads connections over the
workers. Each worker is a whole service process; it dies with the supervisor (even on SIGKILL),
and the supervisor stops every worker when one of them ends.
"""

import ctypes
import logging
import multiprocessing
import os
import signal
import tempfile
import time
from collections.abc import Callable, Sequence
from multiprocessing.process import BaseProcess

from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

logger = logging.getLogger(__name__)
_PR_SET_PDEATHSIG = 1
METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR"


def serving_processes(wanted: int) -> int:
    """0 means one per CPU core this process may run on."""
    return wanted if wanted > 0 else len(os.sched_getaffinity(0))


def workers_registry() -> CollectorRegistry:
    """The metrics of every serving process, summed from prometheus_client's shared files."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


def die_with_parent() -> None:
    """Linux: the kernel sends SIGKILL to this process when its parent dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def supervise(worker: Callable[[int], None], count: int, grace: float) -> int:
    """Runs worker(0..count-1) in spawned processes until SIGTERM/SIGINT or one of them ends.

    Returns the exit code: 0 when every worker stopped cleanly on a signal.
    """
    metrics_dir = tempfile.TemporaryDirectory(prefix="waitroom-metrics-")
    os.environ[METRICS_DIR] = metrics_dir.name  # prometheus_client's multiprocess mode
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=worker, args=(n,), name=f"worker-{n}") for n in range(count)]
    stopping = False

    def stop(signum: int, _: object) -> None:
        nonlocal stopping
        stopping = True
        for process in workers:
            if process.pid and process.is_alive():
                os.kill(process.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for process in workers:
        process.start()
    logger.info("started %d serving processes: %s", count, [p.pid for p in workers])
    ended = _wait_for_first(workers)
    asked_to_stop = stopping  # a signal, not a worker ending on its own
    if not asked_to_stop:
        logger.error("%s exited with %s; stopping the others", ended.name, ended.exitcode)
        stop(signal.SIGTERM, None)
    codes = _join_all(workers, grace)
    metrics_dir.cleanup()
    if not asked_to_stop:
        return ended.exitcode or 1
    # A worker still starting up (importing, before its handler) dies of the SIGTERM itself:
    # it had served nothing, so that is a clean stop too.
    return max((0 if code == -signal.SIGTERM else abs(code or 0)) for code in codes)


def _wait_for_first(workers: Sequence[BaseProcess]) -> BaseProcess:
    while True:
        for process in workers:
            if not process.is_alive():
                return process
        time.sleep(0.2)


def _join_all(workers: Sequence[BaseProcess], grace: float) -> list[int | None]:
    deadline = time.monotonic() + grace
    for process in workers:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            logger.warning("%s did not stop within %.0f s; killing it", process.name, grace)
            process.kill()
            process.join()
    return [p.exitcode for p in workers]
