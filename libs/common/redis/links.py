"""How a batch of script calls reaches Redis: on kept connections, or as a cluster pipeline.

Both send every call's EVALSHA in one go and return the replies in order, an error being a
reply; a batch that could not be sent at all raises.
"""

import asyncio
from collections.abc import Sequence
from typing import Any, Protocol

import hiredis
from redis.asyncio import Redis, RedisCluster
from redis.asyncio.connection import AbstractConnection
from redis.commands.core import AsyncScript
from redis.exceptions import ResponseError

Call = tuple[AsyncScript, Sequence[Any], Sequence[Any], asyncio.Future[Any]]


class Link(Protocol):
    async def round_trip(self, calls: list[Call]) -> list[Any]: ...


def _evalsha(call: Call) -> tuple[Any, ...]:
    script, keys, args, _ = call
    return ("EVALSHA", script.sha, len(keys), *keys, *args)


def packed(connection: AbstractConnection, commands: list[tuple[Any, ...]]) -> list[bytes]:
    """The commands in Redis's protocol, packed by hiredis: the same bytes as redis-py's
    pack_commands, which packs in Python and copies its buffer once for every argument (6 µs
    a message for stats' batches of 50). A type hiredis does not take goes to redis-py, whose
    error says what is wrong."""
    try:
        return [b"".join([hiredis.pack_command(command) for command in commands])]
    except TypeError:
        return connection.pack_commands(commands)


class KeptConnections:
    """One Redis: a connection per pipeline in flight, taken from the client's pool once and
    kept (the pool's disconnect closes it with the others)."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._idle: list[AbstractConnection] = []  # ours, not sending right now

    async def round_trip(self, calls: list[Call]) -> list[Any]:
        connection = await self._connection()
        try:
            await connection.send_packed_command(
                packed(connection, [_evalsha(call) for call in calls])
            )
            replies: list[Any] = []
            for _ in calls:
                try:
                    replies.append(await connection.read_response())
                except ResponseError as error:
                    replies.append(error)
            return replies
        except BaseException:  # replies may be left unread: the next batch connects again
            await connection.disconnect()
            raise
        finally:
            self._idle.append(connection)

    async def _connection(self) -> AbstractConnection:
        if self._idle:
            return self._idle.pop()
        pool = self._redis.connection_pool
        connection: AbstractConnection = await pool.get_connection()  # type: ignore[no-untyped-call]
        return connection


class ClusterLink:
    """A Redis Cluster: redis-py's cluster pipeline splits the batch by node, sends the parts
    at once and follows redirects; a node it cannot reach fails the calls it carried."""

    def __init__(self, redis: RedisCluster) -> None:
        self._redis = redis

    async def round_trip(self, calls: list[Call]) -> list[Any]:
        async with self._redis.pipeline() as pipe:
            for call in calls:
                pipe.execute_command(*_evalsha(call))
            return await pipe.execute(raise_on_error=False)
