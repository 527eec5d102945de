"""Capacity sampled all through a drill: the event's processing set, counted every 150 ms."""

import asyncio
import contextlib
import time
from dataclasses import dataclass, field

from drills import redisdata

EVERY_SECONDS = 0.15


@dataclass
class Samples:
    count: int = 0
    failed: int = 0
    most: int = 0
    over: int = 0  # samples above max_concurrent
    series: list[tuple[float, int]] = field(default_factory=list)


async def sample(url: str, event_id: str, limit: int, samples: Samples) -> None:
    """Runs until cancelled; a sample Redis does not answer (an outage) is counted as failed."""
    redis = redisdata.connect(url)
    key = redisdata.processing_key(event_id)
    started = time.monotonic()
    try:
        while True:
            try:
                # not asyncio.wait_for: on Python 3.11 it can swallow the cancel that ends the
                # sampler when its inner call completes at the same moment, and the drill hangs
                async with asyncio.timeout(1.0):
                    size = int(await redis.zcard(key))
            except Exception:  # an outage, whatever the client calls it; it reconnects itself
                samples.failed += 1
            else:
                samples.count += 1
                samples.most = max(samples.most, size)
                samples.over += size > limit
                samples.series.append((round(time.monotonic() - started, 2), size))
            await asyncio.sleep(EVERY_SECONDS)
    finally:
        with contextlib.suppress(Exception):
            await redis.aclose()
