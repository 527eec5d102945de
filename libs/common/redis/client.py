"""The Redis client every service uses: a bounded pool that waits for a free connection."""

from redis.asyncio import BlockingConnectionPool, Redis

from common.process.settings import CommonSettings

# No call waits longer for Redis: a reply lost on a half-open connection fails its callers
# (and those batched behind it) instead of stalling them for ever. No command blocks, and
# the longest script (an admission step) ends far sooner.
SOCKET_TIMEOUT_SECONDS = 10.0


def connect(settings: CommonSettings) -> Redis:
    # redis-py's default pool raises "Too many connections" past 100 calls in flight; in a
    # flash crowd a call should wait its turn instead (bounded by redis_pool_timeout).
    pool = BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=settings.redis_max_connections,
        timeout=settings.redis_pool_timeout.total_seconds(),
        socket_timeout=SOCKET_TIMEOUT_SECONDS,
        socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
        decode_responses=True,
    )
    return Redis(connection_pool=pool)
