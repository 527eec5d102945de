"""The supervisor of several serving processes, with real spawned processes (no network)."""

import signal
import subprocess
import sys
import time
from pathlib import Path

from common.process.workers import supervise

ROOT = Path(__file__).resolve().parents[2]


def still_starting(_index: int) -> None:
    """A worker that has not installed its SIGTERM handler yet (still importing, say)."""
    time.sleep(60)


def failing(index: int) -> None:
    if index == 1:
        sys.exit(3)
    time.sleep(60)


def quitting(index: int) -> None:
    if index == 1:
        sys.exit(0)  # ended on its own, cleanly: still not what a serving process should do
    time.sleep(60)


def main(worker: str) -> None:
    workers = {"starting": still_starting, "failing": failing, "quitting": quitting}
    sys.exit(supervise(workers[worker], 2, grace=10))


def supervisor(worker: str) -> subprocess.Popen[bytes]:
    code = f"from tests.unit.test_workers import main; main({worker!r})"
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)


def children(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/task/{pid}/children").read_text().split()


def test_workers_stopped_while_still_starting_stop_cleanly() -> None:
    parent = supervisor("starting")
    deadline = time.monotonic() + 30
    while len(children(parent.pid)) < 2:  # both workers spawned
        assert time.monotonic() < deadline
        assert parent.poll() is None
        time.sleep(0.05)
    time.sleep(1)  # past the supervisor's own start-up
    parent.send_signal(signal.SIGTERM)
    assert parent.wait(timeout=30) == 0


def test_a_worker_that_ends_stops_the_others_and_gives_its_code() -> None:
    assert supervisor("failing").wait(timeout=60) == 3
    assert supervisor("quitting").wait(timeout=60) == 1
