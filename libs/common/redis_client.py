"""The Redis client every service uses: a bounded pool that waits for a free connection."""

from redis.asyncio import BlockingConnectionPool, Redis

from common.settings import CommonSettings


def connect(settings: CommonSettings) -> Redis:
    # redis-py's default pool raises "Too many connections" past 100 calls in flight; in a
    # flash crowd a call should wait its turn instead (bounded by redis_pool_timeout).
    pool = BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=settings.redis_max_connections,
        timeout=settings.redis_pool_timeout_seconds,
        decode_responses=True,
    )
    return Redis(connection_pool=pool)
