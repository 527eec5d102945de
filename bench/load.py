"""gRPC load with ghz: the waitroom beside the bare server, same concurrency and request count."""

import uuid
from dataclasses import dataclass
from typing import Any

from bench import cpu, ghz
from bench.servers import Served

METHODS = ("JoinQueue", "GetQueueStatus")


@dataclass(frozen=True, slots=True)
class Targets:
    bare: Served
    waitroom: Served
    floor: Served | None = None  # the bare server plus one Redis script call per request


@dataclass(frozen=True, slots=True)
class Data:
    """What the waitroom is asked: joins to an event that admits one, status of people waiting."""

    join_event: str
    status_sessions: list[str]

    def load(self, method: str, concurrency: int, requests: int, rps: int = 0) -> ghz.Load:
        if method == "JoinQueue":  # a user prefix of its own per run: every join is new
            data = ghz.unique_joins(self.join_event, f"u{uuid.uuid4().hex[:6]}-")
        else:
            data = ghz.statuses(self.status_sessions)
        return ghz.Load(method, data, concurrency, requests, rps)


def pair(
    targets: Targets,
    data: Data,
    method: str,
    concurrency: int,
    requests: int,
    with_floor: bool = False,
) -> dict[str, Any]:
    """One method at one concurrency: the bare server, then the waitroom, and their ratio.

    with_floor: the floor server answers the same load between them.
    """
    base = metered(targets.bare, data.load(method, concurrency, requests))
    floor = {}
    if with_floor and targets.floor is not None:
        least = metered(targets.floor, data.load(method, concurrency, requests))
        floor = {"floor": least, "floor_ratio": least["rps"] / base["rps"]}
    real = metered(targets.waitroom, data.load(method, concurrency, requests))
    return {
        "method": method,
        "concurrency": concurrency,
        "requests": requests,
        "bare": base,
        **floor,
        "waitroom": real,
        "ratio": real["rps"] / base["rps"],
    }


Row = dict[str, Any]


def metered(server: Served, load: ghz.Load) -> Row:
    """One ghz run, with the CPU each process group spent per call meanwhile.

    The group "server" is the server under load (its processes); the stack's parts are there
    in both runs, so the bare server's row shows what the idle stack costs alongside.
    """
    with cpu.meter({"server": server.pid, **cpu.stack_groups()}) as reading:
        result = ghz.run(server.target, load)
    return {**result, **reading.per(load.requests)}


def levels(
    targets: Targets, data: Data, concurrencies: list[int], requests: int, floor_at: int
) -> list[Row]:
    """Every method at every concurrency; the floor too at concurrency `floor_at`."""
    return [
        pair(targets, data, m, c, requests, with_floor=c == floor_at)
        for c in concurrencies
        for m in METHODS
    ]


def pick(rows: list[Row], method: str, concurrency: int) -> Row | None:
    return next((r for r in rows if (r["method"], r["concurrency"]) == (method, concurrency)), None)


def half_peak(targets: Targets, data: Data, rows: list[Row], seconds: float) -> Row:
    """JoinQueue rate-limited to half the best JoinQueue rate seen: its latency, p99 above all.

    The bare server answers at the same rate first: its latency is the framework's share.
    """
    peak = max(r["waitroom"]["rps"] for r in rows if r["method"] == "JoinQueue")
    rps = max(1, int(peak / 2))
    requests = max(500, int(rps * seconds))
    base = metered(targets.bare, data.load("JoinQueue", 50, requests, rps))
    result = metered(targets.waitroom, data.load("JoinQueue", 50, requests, rps))
    return {"peak_rps": peak, "asked_rps": rps, **result, "bare": base}
