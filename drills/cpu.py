"""CPU seconds of the stack's parts (and of the drill itself) over a window, from /proc: where a
moment's time went on a machine that runs everything."""

import os

from drills import cluster

TICKS = os.sysconf("SC_CLK_TCK")


def _seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def parts(status: cluster.Status) -> dict[str, list[int]]:
    """Each part of the stack with its processes (a service with its serving processes)."""
    found: dict[str, list[int]] = {"drill": [os.getpid()]}
    for service in status.services:
        if service["pid"]:
            found[service["name"]] = [service["pid"], *cluster.children(service["pid"])]
    found["redis"] = [n["pid"] for n in status.redis if n["pid"]]
    found["kafka"] = [b["pid"] for b in status.kafka if b["pid"]]
    return found


class Window:
    """CPU seconds each part spent from the window's start to spent(); a process that appeared
    meanwhile (a serving process's replacement) counts in full, one that ended not at all."""

    def __init__(self, status: cluster.Status) -> None:
        self._status = status
        self._start = {p: _seconds(p) for pids in parts(status).values() for p in pids}

    def spent(self) -> dict[str, float]:
        now = parts(self._status)  # the services' serving processes as they are now
        return {
            name: round(sum(_seconds(p) - self._start.get(p, 0.0) for p in pids), 1)
            for name, pids in now.items()
        }
