"""Script calls made concurrently go to Redis together, in pipelines.

In a flash crowd hundreds of requests are in flight at once. Sending each one's script call
on its own costs a pool checkout, a write and a read each; gathered, they cost one of each
per batch, and Redis answers them in order, each still atomic.

gRPC hands requests over one per event-loop turn, so gathering a turn's calls alone makes
batches of one. Instead at most `max_in_flight` pipelines are out at a time and calls made
meanwhile wait for the next one: an idle server sends a call at once, a busy one sends
bigger batches the busier it gets (group commit), with no timer and no added delay.

On one Redis a batch goes out on a connection the batcher keeps (one per pipeline in flight,
taken from the client's pool once), written and read with redis-py's own connection calls: a
redis-py Pipeline costs a pool checkout, a release and a task of its own on every batch, and
when calls come one at a time that bookkeeping costs more CPU than the round trip itself. On
a Redis Cluster a batch is a redis-py cluster pipeline, which splits it by node, sends the
parts together and follows MOVED and ASK redirects.

A call that meets Redis away (a lost connection, a failover) is sent again, after a growing
pause, until `retry_for` has passed; the caller's own deadline may end it sooner. Every script
is idempotent, so one whose reply was lost may run twice and still count once.
"""

import asyncio
from collections.abc import Sequence
from typing import Any

from redis.asyncio import RedisCluster
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

from common.redis.client import REDIS_AWAY, RedisClient, backoff
from common.redis.links import Call, ClusterLink, KeptConnections, Link

RETRY_FOR_SECONDS = 10.0


class ScriptBatcher:
    def __init__(
        self,
        redis: RedisClient,
        max_batch: int = 256,
        max_in_flight: int = 1,
        retry_for: float = RETRY_FOR_SECONDS,
    ) -> None:
        self._link: Link = (
            ClusterLink(redis) if isinstance(redis, RedisCluster) else KeptConnections(redis)
        )
        self._max_batch = max_batch
        self._max_in_flight = max_in_flight
        self._retry_for = retry_for
        self._pending: list[Call] = []
        self._flush_planned = False
        self._sending: set[asyncio.Task[None]] = set()
        self.retries = 0  # calls sent again because Redis was away

    async def call(
        self,
        script: AsyncScript,
        keys: Sequence[Any],
        args: Sequence[Any],
        retry_for: float | None = None,
    ) -> Any:
        """The script's reply. retry_for (default: the batcher's) bounds the retries; 0 for a
        call whose arguments go stale (a time), which its caller tries again with new ones."""
        loop = asyncio.get_running_loop()
        give_up_at = loop.time() + (self._retry_for if retry_for is None else retry_for)
        pause, failures = backoff(), 0
        while True:
            try:
                return await self._once(script, keys, args)
            except REDIS_AWAY:
                delay = pause.compute(failures)
                if loop.time() + delay > give_up_at:
                    raise
            failures += 1
            self.retries += 1
            await asyncio.sleep(delay)

    async def _once(self, script: AsyncScript, keys: Sequence[Any], args: Sequence[Any]) -> Any:
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
        # a caller that went away (its deadline passed meanwhile) costs Redis nothing
        self._pending = [call for call in self._pending if not call[3].done()]
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
            replies = await self._link.round_trip(calls)
        except Exception as error:  # no connection, or it failed: every caller gets the error
            for *_, future in calls:
                if not future.done():
                    future.set_exception(error)
            return
        except BaseException:  # cancelled (shutting down): so are the calls it carried
            for *_, future in calls:
                future.cancel()
            raise
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
