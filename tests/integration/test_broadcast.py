"""Hints between replicas over the real Redis: heard by the others, not by the sender, and
still heard after the subscription's connection was killed."""

import asyncio
import uuid
from collections.abc import Callable

import pytest
from redis.asyncio import RedisCluster

from common.redis.broadcast import Broadcast
from common.redis.client import RedisClient

pytestmark = pytest.mark.integration


async def until(check: Callable[[], bool], within: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "not within time"
        await asyncio.sleep(0.01)


async def numsub(redis: RedisClient, channel: str) -> int:
    """Subscribers to the channel, on every node of a cluster."""
    if isinstance(redis, RedisCluster):
        nodes = await redis.execute_command(
            "PUBSUB", "NUMSUB", channel, target_nodes=RedisCluster.ALL_NODES
        )
        return sum(int(reply[1]) for reply in nodes.values())
    return int((await redis.pubsub_numsub(channel))[0][1])


async def kill_subscribers(redis: RedisClient) -> int:
    if isinstance(redis, RedisCluster):
        killed = await redis.client_kill_filter(_type="pubsub", target_nodes=RedisCluster.ALL_NODES)
        return sum(killed.values())
    return int(await redis.client_kill_filter(_type="pubsub"))


async def subscribers(redis: RedisClient, channel: str, count: int, within: float = 10) -> None:
    """Waits until Redis itself counts `count` subscribers on the channel."""
    deadline = asyncio.get_running_loop().time() + within
    while await numsub(redis, channel) != count:
        assert asyncio.get_running_loop().time() < deadline, f"not {count} subscribers"
        await asyncio.sleep(0.01)


async def test_hints_reach_every_other_replica_and_survive_a_lost_connection(
    redis: RedisClient,
) -> None:
    channel = f"it-hints-{uuid.uuid4().hex[:8]}"
    replicas = {
        name: Broadcast(redis, channel, name, reconnect_seconds=0.05) for name in ("a", "b", "c")
    }
    heard: dict[str, list[str]] = {name: [] for name in replicas}
    listening = [
        asyncio.create_task(replica.listen(heard[name].append))
        for name, replica in replicas.items()
    ]
    try:
        await subscribers(redis, channel, 3)
        replicas["a"].send("relay e1")
        await until(lambda: heard["b"] == ["relay e1"] and heard["c"] == ["relay e1"])

        # Redis drops every subscriber (a restart, a failover): they subscribe again
        killed = await kill_subscribers(redis)
        assert killed >= 3
        await subscribers(redis, channel, 3)
        replicas["b"].send("admit")
        await until(lambda: heard["a"] == ["admit"] and heard["c"] == ["relay e1", "admit"])
        await asyncio.sleep(0.1)
        assert heard["a"] == ["admit"]  # a never hears its own hint
        assert heard["b"] == ["relay e1"]
    finally:
        for replica in replicas.values():
            await replica.stop()
            await replica.stop()  # a second stop returns at once
        await asyncio.wait_for(asyncio.gather(*listening), timeout=10)
