"""The local Redis runs as production would: durable, and never evicting anyone."""

from redis.asyncio import Redis


async def test_the_local_redis_keeps_an_append_only_file_synced_every_second(redis: Redis):
    config = await redis.config_get("append*")
    restart = "a Redis started before infra/redis.sh made it durable: make dev-down dev-up"
    assert config["appendonly"] == "yes", restart
    assert config["appendfsync"] == "everysec", restart


async def test_the_local_redis_evicts_nothing(redis: Redis):
    # an evicting policy would silently delete people in line under memory pressure
    assert (await redis.config_get("maxmemory-policy"))["maxmemory-policy"] == "noeviction"
