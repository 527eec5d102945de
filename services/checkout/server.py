"""Composition root of checkout: clients, wiring, run, shut down."""

import asyncio
import logging
import os
import socket

from prometheus_client import CollectorRegistry

from checkout.config import Settings
from checkout.consumer import TOPICS, CheckoutHandlers
from checkout.metrics import CheckoutMetrics
from checkout.relay import convert
from checkout.repository import CheckoutRepository, key
from checkout.service import CheckoutService
from checkout.servicer import CheckoutServicer
from checkout.worker import CheckoutWorker
from common.kafka.consumer import EACH_RECORD, ConsumerMetrics, EventConsumer
from common.kafka.handlers import each_record
from common.kafka.outbox import OutboxRelay, OutboxStream
from common.kafka.publisher import Publisher, Record, publisher_for
from common.process.deadlines import shedding_for
from common.process.grpc_calls import add_service
from common.process.grpc_server import Health, create_server
from common.process.http import HttpServer
from common.process.lifecycle import ServiceProcess, now_ms, run_until_signal
from common.process.readiness import Dependency, redis_and_kafka
from common.redis.client import RedisClient, connect
from common.tokens.jwks import JwksVerifier
from waitroomapi.checkout.v1 import checkout_pb2

logger = logging.getLogger(__name__)
SERVICE_NAMES = tuple(s.full_name for s in checkout_pb2.DESCRIPTOR.services_by_name.values())


def build_consumer(
    settings: Settings, checkout: CheckoutService, publisher: Publisher, registry: CollectorRegistry
) -> EventConsumer:
    retry_delay = settings.checkout_retry_delay.total_seconds()
    handlers = CheckoutHandlers(checkout)
    return EventConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=settings.checkout_consumer_group,
        topic_names=TOPICS,
        handler=each_record(handlers, settings.checkout_retry_attempts, retry_delay),
        dead_letters=publisher,
        metrics=ConsumerMetrics(registry, "checkout"),
        retry_delays=(retry_delay,),
        **EACH_RECORD,
        offset_reset=settings.kafka_offset_reset,
    )


def build_worker(
    settings: Settings,
    redis: RedisClient,
    repository: CheckoutRepository,
    publisher: Publisher,
    metrics: CheckoutMetrics,
    instance: str,
) -> CheckoutWorker:
    def count_relayed(event_id: str, records: list[Record]) -> None:
        for record in records:
            metrics.relayed.labels(event_id, record.topic).inc()

    relay = OutboxRelay(
        OutboxStream(redis),
        publisher,
        lambda event_id: key(event_id, "outbox"),
        convert,
        instance,
        settings.checkout_outbox_batch,
        int(settings.checkout_outbox_claim_idle.total_seconds() * 1000),
        count_relayed,
    )
    return CheckoutWorker(
        repository,
        relay,
        settings.checkout_sweep_interval.total_seconds(),
        settings.checkout_retry_attempts,
        now_ms,
        lambda step: metrics.errors.labels(step).inc(),
        settings.checkout_retry_delay.total_seconds(),
    )


class CheckoutServer(ServiceProcess):
    """The checkout process: gRPC API, consumers of EVENT_UPDATED and QUEUE_READY, sweeper."""

    name = "checkout"
    dependencies = "Redis, Kafka and the JWKS"

    def __init__(self, settings: Settings, registry: CollectorRegistry | None = None) -> None:
        self.settings = settings
        instance = settings.checkout_instance_id or f"{socket.gethostname()}-{os.getpid()}"
        self.registry = registry or CollectorRegistry()
        self.metrics = CheckoutMetrics(self.registry)
        self.redis = connect(settings)
        self.repository = CheckoutRepository(self.redis)
        self.verifier = JwksVerifier(
            settings.checkout_jwks_url, settings.checkout_jwks_refresh.total_seconds()
        )
        self.publisher = publisher_for(settings, f"checkout-{instance}")
        checkout = CheckoutService(
            self.repository, self.verifier, settings.checkout_tickets_per_hold, now_ms
        )
        self.consumer = build_consumer(settings, checkout, self.publisher, self.registry)
        self.worker = build_worker(
            settings, self.redis, self.repository, self.publisher, self.metrics, instance
        )
        health = Health(SERVICE_NAMES)
        grpc_server = create_server(health, SERVICE_NAMES, reuse_port=False)
        shedding = shedding_for(settings, self.registry, "checkout")
        add_service(grpc_server, CheckoutServicer(checkout, self.metrics), shedding)
        super().__init__(
            grpc_server,
            health,
            HttpServer(self.registry, settings.grpc_host, settings.checkout_metrics_port),
            settings,
            settings.checkout_grpc_port,
            settings.checkout_shutdown_timeout.total_seconds(),
            self.registry,
        )

    async def connect(self) -> None:
        await self.repository.ping()
        await self.verifier.load()
        await self.publisher.start()
        await self.consumer.start()

    def watched(self) -> list[Dependency]:
        return redis_and_kafka(self.redis.ping, self.publisher.ping)

    async def work(self) -> None:
        await asyncio.gather(self.consumer.run(), self.worker.run())

    async def drain(self) -> None:
        self.worker.stop()
        await self.consumer.stop()

    async def close(self) -> None:
        await self.publisher.stop()
        await self.redis.aclose()


async def serve(settings: Settings) -> None:
    await run_until_signal(CheckoutServer(settings))
