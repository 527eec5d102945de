"""The supervisor of several serving processes, with real spawned processes (no network)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from common.process.workers import RestartPolicy, Restarts, supervise

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
    sys.exit(supervise(workers[worker], 2, grace=10, policy=RestartPolicy(limit=2, window=60)))


def supervisor(worker: str) -> subprocess.Popen[bytes]:
    code = f"from tests.unit.test_workers import main; main({worker!r})"
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)


def children(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/task/{pid}/children").read_text().split()


def workers_of(pid: int) -> list[str]:
    """The children that are workers (multiprocessing also spawns its resource tracker)."""
    found = []
    for child in children(pid):
        try:
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(child)
        except FileNotFoundError:  # ended meanwhile
            continue
    return found


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


def wait_for_children(parent: subprocess.Popen[bytes], count: int) -> list[str]:
    deadline = time.monotonic() + 30
    while len(found := workers_of(parent.pid)) < count:
        assert time.monotonic() < deadline
        assert parent.poll() is None
        time.sleep(0.05)
    return found


def test_a_worker_killed_is_replaced_and_the_others_keep_running() -> None:
    parent = supervisor("starting")
    first, second = wait_for_children(parent, 2)
    os.kill(int(first), signal.SIGKILL)
    deadline = time.monotonic() + 30
    while len(now := workers_of(parent.pid)) < 2 or first in now:
        assert time.monotonic() < deadline, "no replacement appeared"
        time.sleep(0.05)
    assert second in now  # the other one was left alone
    time.sleep(1)  # past the replacement's own start-up
    parent.send_signal(signal.SIGTERM)
    assert parent.wait(timeout=30) == 0


def test_a_worker_that_keeps_ending_is_restarted_until_the_policy_gives_up() -> None:
    assert supervisor("failing").wait(timeout=60) == 3
    assert supervisor("quitting").wait(timeout=60) == 1


def test_restarts_are_allowed_up_to_the_limit_within_the_window() -> None:
    restarts = Restarts(RestartPolicy(limit=2, window=10))
    assert restarts.allow(0.0)
    assert restarts.allow(1.0)
    assert not restarts.allow(2.0)  # a third within ten seconds


def test_restarts_spread_out_wider_than_the_window_never_give_up() -> None:
    restarts = Restarts(RestartPolicy(limit=2, window=10))
    assert all(restarts.allow(t * 6.0) for t in range(20))
