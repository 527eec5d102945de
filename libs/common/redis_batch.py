"""Script calls made concurrently go to Redis together, in pipelines.

In a flash crowd hundreds of requests are in flight at once. Sending each one's script call
on its own costs a pool checkout, a write and a read each; gathered, they cost one of each
per batch, and Redis answers them in order, each still atomic.

gRPC hands requests over one per event-loop turn, so gathering a turn's calls alone makes
batches of one. Instead at most `max_in_flight` pipelines are out at a time and calls made
meanwhile wait for the next one: an idle server sends a call at once, a busy one sends
bigger batches the busier it gets (group commit), with no timer and no added delay.
"""

import asyncio
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

Call = tuple[AsyncScript, Sequence[Any], Sequence[Any], asyncio.Future[Any]]


class ScriptBatcher:
    def __init__(self, redis: Redis, max_batch: int = 256, max_in_flight: int = 1) -> None:
        self._redis = redis
        self._max_batch = max_batch
        self._max_in_flight = max_in_flight
        self._pending: list[Call] = []
        self._flush_planned = False
        self._sending: set[asyncio.Task[None]] = set()

    async def call(self, script: AsyncScript, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.append((script, keys, args, future))
        if not self._flush_planned and len(self._sending) < self._max_in_flight:
            # runs after every callback already ready in this turn has had its chance to call
            self._flush_planned = True
            loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        self._flush_planned = False
        while self._pending and len(self._sending) < self._max_in_flight:
            batch, self._pending = (
                self._pending[: self._max_batch],
                self._pending[self._max_batch :],
            )
            task = asyncio.create_task(self._send(batch))
            self._sending.add(task)
            task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._sending.discard(task)
        if self._pending and not self._flush_planned:  # what waited goes now, as one batch
            self._flush_planned = True
            asyncio.get_running_loop().call_soon(self._flush)

    async def _send(self, calls: list[Call]) -> None:
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for script, keys, args, _ in calls:
                    pipe.evalsha(script.sha, len(keys), *keys, *args)
                replies = await pipe.execute(raise_on_error=False)
        except Exception as error:  # the connection failed: every caller gets the error
            for *_, future in calls:
                if not future.done():
                    future.set_exception(error)
            return
        for (script, keys, args, future), reply in zip(calls, replies, strict=True):
            if future.done():  # the caller went away (cancelled)
                continue
            if isinstance(reply, NoScriptError):  # a restarted Redis: the script loads again
                await _settle(future, script(keys=keys, args=args))
            elif isinstance(reply, Exception):
                future.set_exception(reply)
            else:
                future.set_result(reply)


async def _settle(future: asyncio.Future[Any], call: Any) -> None:
    try:
        result = await call
    except Exception as error:
        if not future.done():
            future.set_exception(error)
        return
    if not future.done():
        future.set_result(result)
