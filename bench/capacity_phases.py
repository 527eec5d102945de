"""One phase of the capacity bench: a script driven to Redis's limit, measured, and checked."""

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis

from bench.capacity_drive import Call, batches, drive
from bench.capacity_server import counters


class Miscount(AssertionError):
    """A reply or a count the scripts' contract rules out: the run is wrong, not slow."""


def check(condition: bool, message: str) -> None:
    if not condition:
        raise Miscount(message)


@dataclass(frozen=True, slots=True)
class Figures:
    script: str
    calls: int
    seconds: float
    calls_per_s: float
    usec_per_call: float  # INFO commandstats: the scripts' own execution
    cpu_us_per_call: float  # INFO cpu: everything the server did, reading and replying too
    ceiling_usec: float  # 1e6 / usec_per_call
    ceiling_cpu: float  # calls a CPU-second of the redis-server process
    redis_busy: float  # its CPU seconds per wall second
    fork_cpu_s: float  # children (AOF rewrites) meanwhile
    people_per_call: float
    connections: int
    pipeline: int


def now_ms() -> int:
    return int(time.time() * 1000)


def measure(
    client: redis.Redis,
    name: str,
    calls: Sequence[Call],
    connections: int,
    pipeline: int,
    people_per_call: float = 1.0,
) -> tuple[Figures, list[Any]]:
    """Drives every call; the figures are INFO's, from CONFIG RESETSTAT to the last reply."""
    packed = batches(calls, pipeline)
    client.config_resetstat()
    before = counters(client)
    driven = drive(packed, connections)
    after = counters(client)
    check(driven.errors == 0 and after.failed == 0, f"{name}: {driven.errors} script errors")
    check(after.calls == len(calls), f"{name}: Redis counted {after.calls} of {len(calls)} calls")
    cpu_s = after.cpu_s - before.cpu_s
    usec = after.usec / after.calls
    figures = Figures(
        script=name,
        calls=after.calls,
        seconds=round(driven.seconds, 3),
        calls_per_s=round(after.calls / driven.seconds, 1),
        usec_per_call=round(usec, 2),
        cpu_us_per_call=round(cpu_s * 1e6 / after.calls, 2),
        ceiling_usec=round(1e6 / usec, 1),
        ceiling_cpu=round(after.calls / cpu_s, 1) if cpu_s else 0.0,
        redis_busy=round(cpu_s / driven.seconds, 3),
        fork_cpu_s=round(after.children_cpu_s - before.children_cpu_s, 3),
        people_per_call=round(people_per_call, 2),
        connections=connections,
        pipeline=pipeline,
    )
    return figures, driven.replies


def config_number(client: redis.Redis, config_key: str, field: str) -> int:
    return int(client.hget(config_key, field) or 0)
