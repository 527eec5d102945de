"""Composition root of stats: clients, wiring, run, shut down."""

import asyncio
import contextlib
import logging

from prometheus_client import CollectorRegistry

from common.kafka.consumer import ConsumerMetrics, EventConsumer
from common.kafka.publisher import Publisher, publisher_for
from common.process.deadlines import shedding_for
from common.process.grpc_calls import add_service
from common.process.grpc_server import Health, create_server
from common.process.http import HttpServer
from common.process.lifecycle import ServiceProcess, now_ms, run_until_signal
from common.process.readiness import Dependency, redis_and_kafka
from common.redis.client import connect
from stats.config import Settings
from stats.consumer import TOPICS, StatsHandler
from stats.metrics import StatsMetrics
from stats.repository import StatsRepository
from stats.service import StatsService
from stats.servicer import StatsServicer
from waitroomapi.stats.v1 import stats_pb2

logger = logging.getLogger(__name__)
SERVICE_NAMES = tuple(s.full_name for s in stats_pb2.DESCRIPTOR.services_by_name.values())


def build_consumer(
    settings: Settings, stats: StatsService, publisher: Publisher, registry: CollectorRegistry
) -> EventConsumer:
    return EventConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=settings.stats_consumer_group,
        topic_names=TOPICS,
        handler=StatsHandler(stats),
        dead_letters=publisher,
        metrics=ConsumerMetrics(registry, "stats"),
        workers=settings.stats_workers,
        capacity=settings.stats_buffer,
        batch_size=settings.stats_batch,
        fetch_min_bytes=settings.stats_fetch_min_bytes,
        fetch_max_wait_ms=int(settings.stats_fetch_max_wait.total_seconds() * 1000),
        retry_delays=[d.total_seconds() for d in settings.stats_retry_delays],
        offset_reset=settings.kafka_offset_reset,
    )


class StatsServer(ServiceProcess):
    """The stats process: a pooled consumer of every topic, the gRPC API, per-event gauges."""

    name = "stats"

    def __init__(self, settings: Settings, registry: CollectorRegistry | None = None) -> None:
        self.settings = settings
        self.registry = registry or CollectorRegistry()
        self.metrics = StatsMetrics(self.registry)
        self.redis = connect(settings)
        self.repository = StatsRepository(self.redis)
        self.stats = StatsService(self.repository, now_ms)
        self.publisher = publisher_for(settings, "stats")
        self.consumer = build_consumer(settings, self.stats, self.publisher, self.registry)
        health = Health(SERVICE_NAMES)
        grpc_server = create_server(health, SERVICE_NAMES, reuse_port=False)
        consumer = self.consumer
        add_service(
            grpc_server,
            StatsServicer(
                self.stats, lambda: (consumer.pool.state(), consumer.paused), self.metrics.requests
            ),
            shedding_for(settings, self.registry, "stats"),
        )
        self._draining = asyncio.Event()
        super().__init__(
            grpc_server,
            health,
            HttpServer(self.registry, settings.grpc_host, settings.stats_metrics_port),
            settings,
            settings.stats_grpc_port,
            settings.stats_shutdown_timeout.total_seconds() + 5,
            self.registry,
        )

    async def connect(self) -> None:
        await self.repository.ping()
        await self.publisher.start()
        await self.consumer.start()

    def watched(self) -> list[Dependency]:
        return redis_and_kafka(self.redis.ping, self.publisher.ping)

    async def work(self) -> None:
        await asyncio.gather(self.consumer.run(), self._refresh_gauges())

    async def _refresh_gauges(self) -> None:
        while not self._draining.is_set():
            try:
                for event_id in await self.stats.live_events():
                    self.metrics.observe(await self.stats.event(event_id))
                self.metrics.observe_pool(self.consumer.pool.state())
            except Exception:
                logger.exception("could not refresh the gauges")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._draining.wait(), self.settings.stats_metrics_refresh.total_seconds()
                )

    async def drain(self) -> None:
        """The pool finishes or hands back its work, and only finished work is committed."""
        self._draining.set()
        await self.consumer.stop(self.settings.stats_shutdown_timeout.total_seconds())

    async def close(self) -> None:
        await self.publisher.stop()
        await self.redis.aclose()


async def serve(settings: Settings) -> None:
    await run_until_signal(StatsServer(settings))
