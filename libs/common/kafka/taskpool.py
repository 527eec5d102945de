"""A bounded pool of asyncio workers: retries with backoff, dead letters, graceful shutdown.

The seed's statistics queue: a fixed number of workers take tasks from a bounded buffer;
a task that raises is retried after each delay in `retry_delays` and then dead-lettered
with its error; an exception in one task never stops a worker. A `transient` failure (the
store itself away) is retried at the last delay until it passes, never dead-lettered, and
so is a task whose dead-lettering failed.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)
MIN_WAIT_SECONDS = 0.05  # a task retried until it passes never spins


@dataclass(slots=True)
class Task:
    name: str
    run: Callable[[], Awaitable[None]]
    # Called once the task is finished for good: applied (True) or dead-lettered (False).
    done: Callable[[bool], None] = lambda applied: None
    # What the task is about (a Kafka record, say), for whoever dead-letters it.
    item: object = None
    attempts: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class PoolState:
    queue_size: int
    capacity: int
    workers_running: int
    workers_idle: int
    processed: int
    retried: int
    failed: int
    dead_lettered: int


DeadLetter = Callable[[Task, Exception], Awaitable[None]]


class TaskPool:
    def __init__(
        self,
        workers: int = 3,
        capacity: int = 100,
        retry_delays: Sequence[float] = (1.0, 2.0, 3.0),
        dead_letter: DeadLetter | None = None,
        transient: tuple[type[Exception], ...] = (),
    ) -> None:
        self._queue: asyncio.Queue[Task] = asyncio.Queue(maxsize=capacity)
        self._size = workers
        self._delays = tuple(retry_delays)
        self._dead_letter = dead_letter
        self._transient = transient
        self._workers: list[asyncio.Task[None]] = []
        self._busy = 0
        self.processed = self.retried = self.failed = self.dead_lettered = 0

    def start(self) -> None:
        self._workers = [asyncio.create_task(self._work(n)) for n in range(self._size)]

    def full(self) -> bool:
        return self._queue.full()

    def busy_above(self, share: float) -> bool:
        """Whether more than `share` of the buffer is taken."""
        return self._queue.qsize() > share * self._queue.maxsize

    async def submit(self, task: Task) -> None:
        """Queues the task, waiting while the buffer is full (nothing is ever dropped)."""
        await self._queue.put(task)

    def state(self) -> PoolState:
        running = sum(not w.done() for w in self._workers)
        return PoolState(
            queue_size=self._queue.qsize(),
            capacity=self._queue.maxsize,
            workers_running=running,
            workers_idle=running - self._busy,
            processed=self.processed,
            retried=self.retried,
            failed=self.failed,
            dead_lettered=self.dead_lettered,
        )

    async def stop(self, grace: float) -> list[Task]:
        """Lets the workers finish what is queued within `grace` s; hands back what is left."""
        try:
            await asyncio.wait_for(self._queue.join(), grace)
        except TimeoutError:
            logger.warning("task pool did not drain in %.1fs; handing back the rest", grace)
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        left = []
        while not self._queue.empty():
            left.append(self._queue.get_nowait())
        return left

    async def _work(self, number: int) -> None:
        while True:
            task = await self._queue.get()
            self._busy += 1
            try:
                await self._run(task)
            finally:
                self._busy -= 1
                self._queue.task_done()

    async def _run(self, task: Task) -> None:
        while True:
            error = await self._attempts(task)
            if error is None:
                self.processed += 1
                task.done(True)
                return
            self.failed += 1
            if await self._give_up(task, error):
                return

    async def _attempts(self, task: Task) -> Exception | None:
        """Runs the task until it passes (None) or its retries are spent (the last error)."""
        delays = iter(self._delays)
        while True:
            task.attempts += 1
            try:
                await task.run()
                return None
            except asyncio.CancelledError:
                raise
            except Exception as error:  # a failing task never stops its worker
                task.errors.append(repr(error))
                delay = next(delays, None)
                if delay is None and isinstance(error, self._transient):
                    delay = self._last_delay()
                if delay is None:
                    return error
                self.retried += 1
                logger.warning(
                    "task %s failed (attempt %s), retrying in %ss: %r",
                    task.name,
                    task.attempts,
                    delay,
                    error,
                )
                await asyncio.sleep(delay)

    def _last_delay(self) -> float:
        """How long a task that cannot be finished yet waits before its next try."""
        return max(self._delays[-1] if self._delays else 0.0, MIN_WAIT_SECONDS)

    async def _give_up(self, task: Task, error: Exception) -> bool:
        """Dead-letters the task; False when that failed too (the task is then tried again)."""
        logger.error("task %s failed %s times; dead-lettering: %r", task.name, task.attempts, error)
        if self._dead_letter is not None:
            try:
                await self._dead_letter(task, error)
            except Exception as failure:
                logger.error("could not dead-letter %s; trying it again: %r", task.name, failure)
                await asyncio.sleep(self._last_delay())
                return False
        self.dead_lettered += 1
        task.done(False)
        return True
