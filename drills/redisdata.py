"""The Redis data a drill reads from outside: a cluster client or a plain one, from a URL."""

from urllib.parse import urlparse

from redis.asyncio import Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster

CLUSTER_SCHEME = "redis+cluster"


def connect(url: str) -> Redis | RedisCluster:
    """`redis+cluster://h1:p1,h2:p2/0` (several startup nodes) or any URL redis-py reads."""
    parsed = urlparse(url)
    if parsed.scheme != CLUSTER_SCHEME:
        return Redis.from_url(url, decode_responses=True, socket_timeout=2)
    nodes = []
    for address in parsed.netloc.split(","):
        host, _, port = address.rpartition(":")
        nodes.append(ClusterNode(host, int(port)))
    return RedisCluster(startup_nodes=nodes, decode_responses=True, socket_timeout=2)


def processing_key(event_id: str) -> str:
    return f"waitroom:{{{event_id}}}:processing"
