"""Several serving processes on one port: a supervisor that starts them, replaces one that
dies, and stops them together.

gRPC binds with SO_REUSEPORT on purpose here, so the kernel spreads connections over the
workers, and each worker binds the port itself: the supervisor never listens. A worker that
ends (killed, crashed, or returned) is replaced under the same index, as gunicorn does, while
the others keep serving; index 0 also serves HTTP, so its replacement takes the port over.
Only when restarts keep failing (RestartPolicy) does the supervisor stop the whole set. Each
worker is a whole service process; it dies with the supervisor (even on SIGKILL).
"""

import ctypes
import logging
import multiprocessing
import os
import signal
import tempfile
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.process import BaseProcess

from prometheus_client import CollectorRegistry, Counter, values
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

logger = logging.getLogger(__name__)
_PR_SET_PDEATHSIG = 1
METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR"
POLL_SECONDS = 0.2
Worker = Callable[[int], None]


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


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    """Gives up once more than `limit` restarts fall within `window` seconds."""

    limit: int = 5
    window: float = 60.0


class Restarts:
    """The restarts of the last window: whether one more is still worth making."""

    def __init__(self, policy: RestartPolicy) -> None:
        self._policy = policy
        self._times: deque[float] = deque()

    def allow(self, now: float) -> bool:
        """Records a restart at `now` (monotonic seconds); False when it is one too many."""
        while self._times and now - self._times[0] > self._policy.window:
            self._times.popleft()
        self._times.append(now)
        return len(self._times) <= self._policy.limit


class Supervisor:
    def __init__(self, worker: Worker, count: int, policy: RestartPolicy, name: str) -> None:
        self._worker = worker
        self._context = multiprocessing.get_context("spawn")
        self._restarts = Restarts(policy)
        self._stopping = False
        self._count = count
        self.workers: list[BaseProcess] = []
        # the supervisor's own count, summed with the workers' in their shared files
        values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]
        self._restarted = Counter(
            f"{name}_serving_process_restarts",
            "Serving processes that ended and were replaced",
            registry=None,
        )

    def start(self) -> None:
        self.workers = [self._spawn(n) for n in range(self._count)]
        logger.info("started %d serving processes: %s", self._count, [p.pid for p in self.workers])

    def _spawn(self, index: int) -> BaseProcess:
        process = self._context.Process(target=self._worker, args=(index,), name=f"worker-{index}")
        process.start()
        return process

    def stop(self, signum: int = signal.SIGTERM, _: object = None) -> None:
        self._stopping = True
        for process in self.workers:
            if process.pid and process.is_alive():
                os.kill(process.pid, signal.SIGTERM)

    def watch(self) -> BaseProcess | None:
        """Replaces each worker that ends until a signal (None) or one restart too many (it)."""
        while not self._stopping:
            for index, process in enumerate(self.workers):
                if process.is_alive() or self._stopping:
                    continue
                if not self._restarts.allow(time.monotonic()):
                    logger.error(
                        "%s exited with %s: restarts keep failing; stopping all",
                        process.name,
                        process.exitcode,
                    )
                    return process
                self._replace(index, process)
            time.sleep(POLL_SECONDS)
        return None

    def _replace(self, index: int, dead: BaseProcess) -> None:
        if dead.pid is not None:
            mark_process_dead(dead.pid)  # type: ignore[no-untyped-call]  # its live gauges go
        self.workers[index] = replacement = self._spawn(index)
        if self._stopping and replacement.pid:  # a signal came while it was spawned
            os.kill(replacement.pid, signal.SIGTERM)
        self._restarted.inc()
        logger.error(
            "%s (pid %s) exited with %s; replaced by pid %s", *_ended(dead), replacement.pid
        )


def supervise(
    worker: Worker,
    count: int,
    grace: float,
    policy: RestartPolicy | None = None,
    name: str = "waitroom",
) -> int:
    """Runs worker(0..count-1) in spawned processes until SIGTERM/SIGINT, replacing any that
    ends, until restarts keep failing.

    Returns the exit code: 0 when every worker stopped cleanly on a signal.
    """
    metrics_dir = tempfile.TemporaryDirectory(prefix="waitroom-metrics-")
    os.environ[METRICS_DIR] = metrics_dir.name  # prometheus_client's multiprocess mode
    supervisor = Supervisor(worker, count, policy or RestartPolicy(), name)
    signal.signal(signal.SIGTERM, supervisor.stop)
    signal.signal(signal.SIGINT, supervisor.stop)
    supervisor.start()
    failing = supervisor.watch()
    if failing is not None:
        supervisor.stop()
    codes = _join_all(supervisor.workers, grace)
    metrics_dir.cleanup()
    if failing is not None:
        return failing.exitcode or 1
    # A worker still starting up (importing, before its handler) dies of the SIGTERM itself:
    # it had served nothing, so that is a clean stop too.
    return max((0 if code == -signal.SIGTERM else abs(code or 0)) for code in codes)


def _ended(process: BaseProcess) -> tuple[str, int | None, int | None]:
    return process.name, process.pid, process.exitcode


def _join_all(workers: Sequence[BaseProcess], grace: float) -> list[int | None]:
    deadline = time.monotonic() + grace
    for process in workers:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            logger.warning("%s did not stop within %.0f s; killing it", process.name, grace)
            process.kill()
            process.join()
    return [p.exitcode for p in workers]
