"""Where a run's CPU goes: each process group's CPU time per call, and how busy the machine was.

Every part of the stack shares the same cores, so a ratio to the bare server is also a sum of
costs: the serving processes', Redis', Kafka's, the consumers' and ghz's own. A meter reads
each group's CPU time (its processes and all their children, via psutil) before and after a
measurement, and ghz's from the bench's reaped children.
"""

import resource
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from bench.events import KAFKA, REDIS

ROOT = Path(__file__).resolve().parents[1]
GHZ = "ghz"


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def tree_seconds(pid: int) -> float:
    """CPU seconds of a process and its live children (a pid gone away counts 0)."""
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for process in processes:
        try:
            total += _cpu_seconds(process)
        except psutil.NoSuchProcess:
            continue
    return total


def _stack_pid(service: str) -> int | None:
    """A stack service's pid from the file `scripts/stack.sh` writes."""
    path = ROOT / f"var/run/{service}.pid"
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _port(url: str) -> int:
    """The port of the first host of a Redis URL or a Kafka bootstrap list."""
    host = url.split("://")[-1].split("@")[-1].split(",")[0].split("/")[0]
    return int(host.rpartition(":")[2])


def _listens(process: psutil.Process, port: int) -> bool:
    try:
        return any(
            c.status == psutil.CONN_LISTEN and c.laddr.port == port
            for c in process.net_connections(kind="tcp")
        )
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def _redis_or_kafka() -> dict[str, int]:
    """The Redis server and the Kafka broker (a JVM whose main class is kafka.Kafka) the bench
    uses: the ones listening on REDIS's and KAFKA's ports, not a test's throwaway Redis or a
    cluster's nodes running meanwhile."""
    ports = {"redis": _port(REDIS), "kafka": _port(KAFKA)}
    found: dict[str, int] = {}
    for process in psutil.process_iter(["name", "cmdline"]):
        if process.info["name"] == "redis-server":
            group = "redis"
        elif "kafka.Kafka" in (process.info["cmdline"] or ()):
            group = "kafka"
        else:
            continue
        if group not in found and _listens(process, ports[group]):
            found[group] = process.pid
    return found


def stack_groups() -> dict[str, int]:
    """The running stack's processes, by group: its services, Redis and the Kafka broker."""
    services = {name: _stack_pid(name) for name in ("waitroom", "checkout", "stats")}
    groups = {f"stack {name}": pid for name, pid in services.items() if pid is not None}
    return {**groups, **_redis_or_kafka()}


def _children_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _machine() -> tuple[float, float]:
    """(all CPU seconds, idle CPU seconds) of the whole machine so far."""
    times = psutil.cpu_times()
    idle = times.idle + getattr(times, "iowait", 0.0)
    return sum(times), idle


@dataclass
class Reading:
    """A finished measurement: CPU seconds per group, wall seconds, and the machine's busy share."""

    seconds: dict[str, float] = field(default_factory=dict)
    wall_s: float = 0.0
    busy: float = 0.0

    def per(self, count: int, unit: str = "call") -> dict[str, Any]:
        """Each group's CPU µs per call (or per person, ...), their total, and the busy share."""
        us = {name: round(s / count * 1e6) for name, s in self.seconds.items()}
        return {
            f"cpu_us_per_{unit}": {**us, "total": sum(us.values())},
            "machine_busy": round(self.busy, 3),
        }


@contextmanager
def meter(groups: Mapping[str, int]) -> Iterator[Reading]:
    """Measures the groups (name -> root pid) and ghz (the bench's own children) meanwhile.

    ghz runs as a child the bench waits for, so its CPU time is in RUSAGE_CHILDREN; the servers
    the bench started are its children too but are only reaped when they stop, after the run.
    """
    reading = Reading()
    before = {name: tree_seconds(pid) for name, pid in groups.items()}
    ghz_before, machine_before, started = _children_seconds(), _machine(), time.monotonic()
    yield reading
    reading.wall_s = time.monotonic() - started
    machine_after = _machine()
    reading.seconds = {
        name: max(0.0, tree_seconds(pid) - before[name]) for name, pid in groups.items()
    }
    reading.seconds[GHZ] = _children_seconds() - ghz_before
    total = machine_after[0] - machine_before[0]
    idle = machine_after[1] - machine_before[1]
    reading.busy = (total - idle) / total if total > 0 else 0.0
