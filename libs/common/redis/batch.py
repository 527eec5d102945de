"""Script calls made concurrently go to Redis together, in pipelines.

In a flash crowd hundreds of requests are in flight at once. Sending each one's script call
on its own costs a pool checkout, a write and a read each; gathered, they cost one of each
per batch, and Redis answers them in order, each still atomic.

gRPC hands requests over one per event-loop turn, so gathering a turn's calls alone makes
batches of one. Instead at most `max_in_flight` pipelines are out at a time and calls made
meanwhile wait for the next one: an idle server sends a call at once, a busy one sends
bigger batches the busier it gets (group commit), with no timer and no added delay.

A batch goes out on a connection the batcher keeps (one per pipeline in flight, taken from
the client's pool once), written and read with redis-py's own connection calls and retried
by its retry policy, as its pipelines are. A redis-py Pipeline costs a pool checkout, a
release and a task of its own on every batch; when calls come one at a time, each is a batch,
and that bookkeeping costs more CPU than the round trip itself.
"""

import asyncio
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError, ResponseError

Call = tuple[AsyncScript, Sequence[Any], Sequence[Any], asyncio.Future[Any]]


class ScriptBatcher:
    def __init__(self, redis: Redis, max_batch: int = 256, max_in_flight: int = 1) -> None:
        self._redis = redis
        self._max_batch = max_batch
        self._max_in_flight = max_in_flight
        self._pending: list[Call] = []
        self._flush_planned = False
        self._sending: set[asyncio.Task[None]] = set()
        self._connections: list[AbstractConnection] = []  # ours, not sending right now

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
        connection = None
        try:
            connection = await self._connection()
            replies = await connection.retry.call_with_retry(
                lambda: _round_trip(connection, calls), lambda _: connection.disconnect()
            )
        except Exception as error:  # no connection, or it failed: every caller gets the error
            for *_, future in calls:
                if not future.done():
                    future.set_exception(error)
            return
        except BaseException:  # cancelled (shutting down): so are the calls it carried
            for *_, future in calls:
                future.cancel()
            raise
        finally:  # disconnected by a failure, it connects again for the next batch
            if connection is not None:
                self._connections.append(connection)
        for (script, keys, args, future), reply in zip(calls, replies, strict=True):
            if future.done():  # the caller went away (cancelled)
                continue
            if isinstance(reply, NoScriptError):  # a restarted Redis: the script loads again
                await _settle(future, script(keys=keys, args=args))
            elif isinstance(reply, Exception):
                future.set_exception(reply)
            else:
                future.set_result(reply)

    async def _connection(self) -> AbstractConnection:
        if self._connections:
            return self._connections.pop()
        # it stays checked out of the pool: the pool's disconnect closes it with the others
        pool = self._redis.connection_pool
        connection: AbstractConnection = await pool.get_connection()  # type: ignore[no-untyped-call]
        return connection


async def _round_trip(connection: AbstractConnection, calls: list[Call]) -> list[Any]:
    """Every call's EVALSHA in one write, then their replies in order (an error is a reply)."""
    commands = [("EVALSHA", script.sha, len(keys), *keys, *args) for script, keys, args, _ in calls]
    await connection.send_packed_command(connection.pack_commands(commands))
    replies: list[Any] = []
    for _ in calls:
        try:
            replies.append(await connection.read_response())
        except ResponseError as error:
            replies.append(error)
    return replies


async def _settle(future: asyncio.Future[Any], call: Any) -> None:
    try:
        result = await call
    except Exception as error:
        if not future.done():
            future.set_exception(error)
        return
    if not future.done():
        future.set_result(result)
