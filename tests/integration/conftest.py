"""Integration fixtures: the real Redis and Kafka from `make dev-up`, in-process gRPC on port 0."""

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import grpc
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client import CollectorRegistry

from checkout.config import Settings as CheckoutSettings
from checkout.server import CheckoutServer
from common.process.settings import CommonSettings
from common.redis.client import RedisClient, connect
from stats.config import Settings as StatsSettings
from stats.server import StatsServer
from tests.integration.outage import ThrowawayRedis
from waitroom.config import Settings
from waitroom.server import WaitroomServer
from waitroomapi.waitroom.v1 import waitroom_pb2 as pb
from waitroomapi.waitroom.v1 import waitroom_pb2_grpc as pb_grpc

# A database of its own, so a stack left running by `make up` never processes test events.
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
CLUSTER = "+cluster://" in REDIS_URL  # the suite runs on a Redis Cluster (tests/cluster)
KAFKA = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
ADMIN = (("authorization", "Bearer test-admin-token"),)


@pytest.fixture
async def redis() -> AsyncIterator[RedisClient]:
    """The services' own client: one Redis, or a Redis Cluster when TEST_REDIS_URL names one."""
    client = connect(CommonSettings(redis_url=REDIS_URL))
    try:
        await client.ping()
    except Exception as error:
        pytest.fail(f"Redis is not answering at {REDIS_URL} (run `make dev-up`): {error!r}")
    yield client
    await client.aclose()


@pytest.fixture
async def event_id(redis: RedisClient) -> AsyncIterator[str]:
    event = f"it-{uuid.uuid4().hex[:12]}"
    yield event
    keys = [k async for k in redis.scan_iter(match=f"waitroom:{{{event}}}:*", count=1000)]
    if keys:
        await redis.delete(*keys)
    await redis.srem("waitroom:events", event)


def settings(tmp_path, **overrides) -> Settings:
    values = {
        "redis_url": REDIS_URL,
        "kafka_bootstrap_servers": KAFKA,
        "waitroom_grpc_port": 0,
        "waitroom_metrics_port": 0,
        "waitroom_admin_token": "test-admin-token",
        "waitroom_signing_key_file": tmp_path / "signing.pem",
        "queue_process_interval": timedelta(milliseconds=50),
        "queue_outbox_claim_idle": timedelta(seconds=1),
        "grpc_grace": 0.5,
        "kafka_offset_reset": "latest",
    }
    return Settings(**{**values, **overrides})


async def launched(server, servers):
    """Starts a server and returns once it is ready and its consumer has partitions."""
    await server.start()
    servers.append(server)
    await asyncio.wait_for(server.wait_ready(), 30)
    await asyncio.wait_for(server.consumer.wait_assigned(), 30)
    return server


@pytest.fixture
async def start_server(tmp_path) -> AsyncIterator[Callable[..., asyncio.Future[WaitroomServer]]]:
    servers: list[WaitroomServer] = []

    # One consumer group per test: the stack's waitroom (Redis db 0) never takes our messages.
    group = f"waitroom-it-{uuid.uuid4().hex[:8]}"

    async def start(**overrides) -> WaitroomServer:
        overrides.setdefault("waitroom_consumer_group", group)
        server = WaitroomServer(settings(tmp_path, **overrides), CollectorRegistry())
        return await launched(server, servers)

    yield start  # type: ignore[misc]
    for server in servers:
        await server.stop()


@pytest.fixture
async def channel_to() -> AsyncIterator[Callable[[WaitroomServer], grpc.aio.Channel]]:
    channels: list[grpc.aio.Channel] = []

    def open_channel(server: WaitroomServer) -> grpc.aio.Channel:
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
        channels.append(channel)
        return channel

    yield open_channel
    for channel in channels:
        await channel.close()


async def create_event(channel: grpc.aio.Channel, event_id: str, **fields) -> pb.Event:
    admin = pb_grpc.AdminServiceStub(channel)
    return await admin.CreateEvent(
        pb.CreateEventRequest(event_id=event_id, **fields), metadata=ADMIN
    )


class KafkaTail:
    """Reads what is published to some topics from now on."""

    def __init__(self, topics: tuple[str, ...]) -> None:
        self._topics = topics
        self._consumer = AIOKafkaConsumer(bootstrap_servers=KAFKA, enable_auto_commit=False)

    async def start(self) -> None:
        await self._consumer.start()
        partitions = [
            TopicPartition(topic, p)
            for topic in self._topics
            for p in self._consumer.partitions_for_topic(topic) or await self._partitions(topic)
        ]
        self._consumer.assign(partitions)
        await self._consumer.seek_to_end(*partitions)
        for tp in partitions:  # resolve the end offsets now, before the test publishes
            await self._consumer.position(tp)

    async def _partitions(self, topic: str) -> set[int]:
        await self._consumer._client.force_metadata_update()
        found = self._consumer.partitions_for_topic(topic)
        if not found:
            pytest.fail(f"Kafka topic {topic} does not exist (run `make dev-up`)")
        return found

    async def collect(self, predicate, count: int, within: float = 30) -> list:
        found = []
        try:
            async with asyncio.timeout(within):
                while len(found) < count:
                    batch = await self._consumer.getmany(timeout_ms=500)
                    for records in batch.values():
                        found.extend(r for r in records if predicate(r))
        except TimeoutError:
            pass
        return found

    async def stop(self) -> None:
        await self._consumer.stop()


@pytest.fixture
async def kafka_tail() -> AsyncIterator[Callable[..., asyncio.Future[KafkaTail]]]:
    tails: list[KafkaTail] = []

    async def open_tail(*topics: str) -> KafkaTail:
        tail = KafkaTail(topics)
        await tail.start()
        tails.append(tail)
        return tail

    yield open_tail  # type: ignore[misc]
    for tail in tails:
        await tail.stop()


@pytest.fixture
async def start_checkout() -> AsyncIterator[Callable[..., asyncio.Future[CheckoutServer]]]:
    servers: list[CheckoutServer] = []
    group = f"checkout-it-{uuid.uuid4().hex[:8]}"

    async def start(waitroom: WaitroomServer, **overrides) -> CheckoutServer:
        values = {
            "redis_url": REDIS_URL,
            "kafka_bootstrap_servers": KAFKA,
            "kafka_offset_reset": "latest",
            "checkout_grpc_port": 0,
            "checkout_metrics_port": 0,
            "checkout_jwks_url": f"http://127.0.0.1:{waitroom.http.port}/.well-known/jwks.json",
            "checkout_sweep_interval": 0.1,
            "checkout_consumer_group": group,
            "grpc_grace": 0.5,
        }
        server = CheckoutServer(CheckoutSettings(**{**values, **overrides}), CollectorRegistry())
        return await launched(server, servers)

    yield start  # type: ignore[misc]
    for server in servers:
        await server.stop()


@pytest.fixture
async def checkout_keys(redis: RedisClient, event_id: str) -> AsyncIterator[None]:
    yield
    keys = [k async for k in redis.scan_iter(match=f"checkout:{{{event_id}}}:*", count=1000)]
    if keys:
        await redis.delete(*keys)
    await redis.srem("checkout:events", event_id)


@pytest.fixture
async def start_stats() -> AsyncIterator[Callable[..., asyncio.Future[StatsServer]]]:
    servers: list[StatsServer] = []
    group = f"stats-it-{uuid.uuid4().hex[:8]}"

    async def start(**overrides) -> StatsServer:
        values = {
            "redis_url": REDIS_URL,
            "kafka_bootstrap_servers": KAFKA,
            "kafka_offset_reset": "latest",
            "stats_grpc_port": 0,
            "stats_metrics_port": 0,
            "stats_consumer_group": group,
            "stats_retry_delays": [0.01, 0.02, 0.03],
            "grpc_grace": 0.5,
        }
        server = StatsServer(StatsSettings(**{**values, **overrides}), CollectorRegistry())
        return await launched(server, servers)

    yield start  # type: ignore[misc]
    for server in servers:
        await server.stop()


@pytest.fixture
async def throwaway_redis(tmp_path) -> AsyncIterator[ThrowawayRedis]:
    """A redis-server of the test's own on OUTAGE_PORT, to kill and start again."""
    server = ThrowawayRedis(tmp_path)
    await server.start()
    yield server
    await server.kill()
