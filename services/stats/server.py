"""Composition root of stats: clients, wiring, run, shut down."""

import asyncio
import logging

from prometheus_client import CollectorRegistry

from common.consumer import ConsumerMetrics
from common.grpc_server import Health, bind, create_server
from common.http import HttpServer
from common.kafka import Publisher
from common.lifecycle import now_ms, run_until_signal, wait_for
from common.pooled_consumer import PooledConsumer
from common.redis_client import connect
from stats.config import Settings
from stats.consumer import TOPICS, StatsHandler
from stats.metrics import StatsMetrics
from stats.repository import StatsRepository
from stats.service import StatsService
from stats.servicer import StatsServicer
from waitroomapi.stats.v1 import stats_pb2, stats_pb2_grpc

logger = logging.getLogger(__name__)
SERVICE_NAMES = tuple(s.full_name for s in stats_pb2.DESCRIPTOR.services_by_name.values())


class StatsServer:
    """The stats process: a pooled consumer of every topic, the gRPC API, per-event gauges."""

    def __init__(self, settings: Settings, registry: CollectorRegistry | None = None) -> None:
        self.settings = settings
        self.registry = registry or CollectorRegistry()
        self.metrics = StatsMetrics(self.registry)
        self.redis = connect(settings)
        self.repository = StatsRepository(self.redis)
        self.stats = StatsService(self.repository, now_ms)
        self.publisher = Publisher(
            settings.kafka_bootstrap_servers, settings.kafka_send_timeout_seconds, "stats"
        )
        self.consumer = PooledConsumer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            group_id=settings.stats_consumer_group,
            topic_names=TOPICS,
            handler=StatsHandler(self.repository),
            dead_letters=self.publisher,
            metrics=ConsumerMetrics(self.registry, "stats"),
            workers=settings.stats_workers,
            capacity=settings.stats_buffer,
            retry_delays=settings.stats_retry_delays_seconds,
            offset_reset=settings.kafka_offset_reset,
        )
        self.health = Health(SERVICE_NAMES)
        self.grpc = create_server(self.health, SERVICE_NAMES, reuse_port=False)
        stats_pb2_grpc.add_StatsServiceServicer_to_server(
            StatsServicer(self.stats, lambda: (self.consumer.pool.state(), self.consumer.paused)),
            self.grpc,
        )
        self.http = HttpServer(self.registry, settings.grpc_host, settings.stats_metrics_port)
        self.port = 0
        self._ready = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self.port = bind(self.grpc, self.settings.grpc_host, self.settings.stats_grpc_port)
        await self.grpc.start()
        await self.health.start()
        await self.http.start()
        logger.info(
            "stats serving gRPC on %s:%s, HTTP on %s",
            self.settings.grpc_host,
            self.port,
            self.http.port,
        )
        self._tasks.append(asyncio.create_task(self._connect_then_work()))

    async def wait_ready(self) -> None:
        await self._ready.wait()

    async def _connect_then_work(self) -> None:
        await wait_for(self._connect, "Redis and Kafka")
        await self.health.set_ready(True)
        self._ready.set()
        logger.info("connected to Redis and Kafka; ready")
        await asyncio.gather(self.consumer.run(), self._refresh_gauges())

    async def _refresh_gauges(self) -> None:
        while True:
            try:
                for event_id in await self.stats.events():
                    self.metrics.observe(await self.stats.event(event_id))
                self.metrics.observe_pool(self.consumer.pool.state())
            except Exception:
                logger.exception("could not refresh the gauges")
            await asyncio.sleep(self.settings.stats_metrics_refresh_seconds)

    async def _connect(self) -> None:
        await self.repository.ping()
        await self.publisher.start()
        await self.consumer.start()

    async def stop(self) -> None:
        """SIGTERM: NOT_SERVING, drain gRPC, finish or hand back the pool's work, commit, close."""
        await self.health.set_ready(False)
        await self.grpc.stop(self.settings.grpc_grace_seconds)
        if self._ready.is_set():
            await self.consumer.stop(self.settings.stats_shutdown_timeout_seconds)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.publisher.stop()
        await self.redis.aclose()
        await self.http.stop()
        logger.info("stats stopped")


async def serve(settings: Settings) -> None:
    await run_until_signal(StatsServer(settings))
