"""Retries with exponential backoff for operations that may fail for a moment."""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

logger = logging.getLogger(__name__)
T = TypeVar("T")


async def with_retries(
    operation: Callable[[], Awaitable[T]],
    *,
    attempts: int,
    base_delay: float,
    what: str,
    max_delay: float = 5.0,
) -> T:
    """Runs operation up to `attempts` times, doubling the delay after each failure."""
    for attempt in range(1, attempts + 1):
        try:
            return await operation()
        except Exception as error:  # every failure is retried, then re-raised
            if attempt == attempts:
                raise
            delay = min(base_delay * 2 ** (attempt - 1), max_delay)
            logger.warning(
                "%s failed (attempt %s/%s), retrying in %.2fs: %r",
                what,
                attempt,
                attempts,
                delay,
                error,
            )
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")
