"""The Redis client every service uses: one Redis, or a Redis Cluster, chosen by REDIS_URL.

`redis://host:port/db` (or `rediss://`) is one Redis, through a bounded pool that waits for a
free connection. `redis+cluster://host:port,host:port,...` (or `rediss+cluster://`) is a Redis
Cluster through redis-py's own cluster client: the hosts are where it starts, it learns the
rest of the cluster from them and follows MOVED and ASK redirects and failovers itself.
"""

from urllib.parse import unquote

from redis.asyncio import BlockingConnectionPool, Redis, RedisCluster
from redis.asyncio.cluster import ClusterNode
from redis.asyncio.retry import Retry
from redis.backoff import EqualJitterBackoff
from redis.exceptions import (
    ClusterDownError,
    ClusterError,
    MasterDownError,
    ReadOnlyError,
    RedisError,
    SlotNotCoveredError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from common.process.settings import CommonSettings

RedisClient = Redis | RedisCluster
CLUSTER_SCHEMES = {"redis+cluster": False, "rediss+cluster": True}  # scheme -> TLS

# No call waits longer for Redis: a reply lost on a half-open connection fails its callers
# (and those batched behind it) instead of stalling them for ever. No command blocks, and
# the longest script (an admission step) ends far sooner.
SOCKET_TIMEOUT_SECONDS = 10.0
# What "Redis is away for now" looks like: a refused or dropped connection, a timeout, a
# Redis still loading its data (a ConnectionError), or a failover: a replica not yet promoted
# answers READONLY (MASTERDOWN), a cluster without a primary for a slot CLUSTERDOWN, TRYAGAIN
# or no node for the slot, redirects that never settle. A call that meets one is sent again
# after a pause; every script is idempotent (DESIGN.md's traps), so a call whose reply was
# lost may run twice and still count once. (common.process.outages adds Kafka's.)
_REFUSED: tuple[type[RedisError], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    ReadOnlyError,
    MasterDownError,
    ClusterDownError,
    TryAgainError,
)
REDIS_AWAY: tuple[type[Exception], ...] = (*_REFUSED, ClusterError, SlotNotCoveredError)


def backoff() -> EqualJitterBackoff:
    """Pauses between tries: 25-50 ms, doubling up to 0.5-1 s, so that a failover of a few
    seconds costs a handful of tries, and replicas that lost Redis together do not return
    together."""
    return EqualJitterBackoff(cap=1.0, base=0.05)


def connect(settings: CommonSettings) -> RedisClient:
    scheme, _, rest = settings.redis_url.partition("://")
    if scheme in CLUSTER_SCHEMES:
        return _cluster(settings, rest, tls=CLUSTER_SCHEMES[scheme])
    # redis-py's default pool raises "Too many connections" past 100 calls in flight; in a
    # flash crowd a call should wait its turn instead (bounded by redis_pool_timeout).
    pool = BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=settings.redis_max_connections,
        timeout=settings.redis_pool_timeout.total_seconds(),
        socket_timeout=SOCKET_TIMEOUT_SECONDS,
        socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
        decode_responses=True,
        # a command other than a batched script (those retry in ScriptBatcher) is tried
        # again a few times; the caller's own loop (a relay, a sweeper) does the rest
        retry=Retry(backoff(), 3, supported_errors=_REFUSED),
    )
    return Redis(connection_pool=pool)


def _cluster(settings: CommonSettings, rest: str, tls: bool) -> RedisCluster:
    credentials, _, hosts = rest.rpartition("@")
    hosts = hosts.split("/", 1)[0]
    username, _, password = credentials.partition(":")
    nodes = [ClusterNode(*_host_port(entry)) for entry in hosts.split(",") if entry]
    if not nodes:
        raise ValueError(f"REDIS_URL names no cluster node: {settings.redis_url!r}")
    return RedisCluster(
        startup_nodes=nodes,
        username=unquote(username) or None,
        password=unquote(password) or None,
        ssl=tls,
        decode_responses=True,
        max_connections=settings.redis_max_connections,  # per node
        socket_timeout=SOCKET_TIMEOUT_SECONDS,
        socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
        # the slots of a node that is failing over are refused meanwhile, not the whole cluster
        require_full_coverage=False,
        retry=Retry(backoff(), 3, supported_errors=_REFUSED),
    )


def _host_port(entry: str) -> tuple[str, int]:
    host, _, port = entry.strip().rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"a cluster node must be host:port, not {entry!r}")
    return host.strip("[]"), int(port)
