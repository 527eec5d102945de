"""The local Redis Cluster as the cluster suite sees it: its URL, a client, and its nodes."""

import os
from dataclasses import dataclass

import pytest
from redis.asyncio import Redis, RedisCluster

from common.process.settings import CommonSettings
from common.redis.client import connect

# `make cluster-up`'s Redis Cluster (three primaries, a replica each, on 7000-7005)
CLUSTER_REDIS_URL = os.environ.get(
    "CLUSTER_REDIS_URL", "redis+cluster://127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002"
)


@dataclass(frozen=True)
class Node:
    port: int
    primary: bool
    slots: frozenset[int]
    pid: int
    node_id: str
    replica_of: str  # the primary's node id ("-" for a primary)


async def cluster_client() -> RedisCluster:
    client = connect(CommonSettings(redis_url=CLUSTER_REDIS_URL))
    assert isinstance(client, RedisCluster), CLUSTER_REDIS_URL
    try:
        await client.ping()
    except Exception as error:
        pytest.fail(f"no Redis Cluster at {CLUSTER_REDIS_URL} (run `make cluster-up`): {error!r}")
    return client


async def nodes(cluster: RedisCluster) -> list[Node]:
    """Every node that answers, as the cluster itself sees them (CLUSTER NODES, asked of a
    node that answers, not the client's cached map): its role, its slots, its process id."""
    table = await _ask_any(cluster, "CLUSTER", "NODES")
    found = []
    for line in table.splitlines():
        fields = line.split()
        if "fail" in fields[2] or "noaddr" in fields[2]:
            continue
        port = int(fields[1].split("@")[0].rpartition(":")[2])
        direct = Redis(port=port, decode_responses=True, socket_timeout=2)
        try:
            pid = int((await direct.info("server"))["process_id"])
        except Exception:  # down, not yet marked as failed
            continue
        finally:
            await direct.aclose()
        primary = "master" in fields[2]
        slots = _slots(fields[8:]) if primary else frozenset()
        found.append(Node(port, primary, slots, pid, fields[0], fields[3]))
    return found


async def _ask_any(cluster: RedisCluster, *command: str) -> str:
    for node in cluster.get_nodes():
        direct = Redis(host=node.host, port=int(node.port), decode_responses=True, socket_timeout=2)
        try:
            return str(await direct.execute_command(*command))
        except Exception:
            continue
        finally:
            await direct.aclose()
    raise AssertionError("no node of the cluster answers")


def _slots(ranges: list[str]) -> frozenset[int]:
    """`0-5460 5462 [5461->-abc]` (a slot being migrated in brackets, left out)."""
    slots: set[int] = set()
    for part in ranges:
        if not part.startswith("["):
            start, _, end = part.partition("-")
            slots.update(range(int(start), int(end or start) + 1))
    return frozenset(slots)


async def forget_event(cluster: RedisCluster, event: str) -> None:
    """Deletes every key of the event (they share its slot) and takes it off the services'
    lists, so the cluster stack's processors do not go on admitting a test's crowd."""
    keys = [k async for k in cluster.scan_iter(match=f"*{{{event}}}*", count=1000)]
    for start in range(0, len(keys), 500):
        await cluster.delete(*keys[start : start + 500])
    for listed in ("waitroom:events", "checkout:events", "stats:events"):
        await cluster.srem(listed, event)
