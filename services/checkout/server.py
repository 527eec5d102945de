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
from common.consumer import ConsumerMetrics, EventConsumer
from common.grpc_server import Health, bind, create_server
from common.http import HttpServer
from common.jwks import JwksVerifier
from common.kafka import Publisher, Record
from common.lifecycle import now_ms, run_until_signal, wait_for
from common.outbox import OutboxRelay, OutboxStream
from common.redis_client import connect
from waitroomapi.checkout.v1 import checkout_pb2, checkout_pb2_grpc

logger = logging.getLogger(__name__)
SERVICE_NAMES = tuple(s.full_name for s in checkout_pb2.DESCRIPTOR.services_by_name.values())


class CheckoutServer:
    """The checkout process: gRPC API, consumers of EVENT_UPDATED and QUEUE_READY, sweeper."""

    def __init__(self, settings: Settings, registry: CollectorRegistry | None = None) -> None:
        self.settings = settings
        instance = settings.checkout_instance_id or f"{socket.gethostname()}-{os.getpid()}"
        self.registry = registry or CollectorRegistry()
        self.metrics = CheckoutMetrics(self.registry)
        self.redis = connect(settings)
        self.repository = CheckoutRepository(self.redis)
        self.verifier = JwksVerifier(
            settings.checkout_jwks_url, settings.checkout_jwks_refresh_seconds
        )
        self.publisher = Publisher(
            settings.kafka_bootstrap_servers,
            settings.kafka_send_timeout_seconds,
            f"checkout-{instance}",
        )
        per_hold = settings.checkout_tickets_per_hold
        self.consumer = EventConsumer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            group_id=settings.checkout_consumer_group,
            topic_names=TOPICS,
            handler=CheckoutHandlers(self.repository, self.verifier, per_hold, now_ms),
            dead_letters=self.publisher,
            metrics=ConsumerMetrics(self.registry, "checkout"),
            retry_attempts=settings.checkout_retry_attempts,
            offset_reset=settings.kafka_offset_reset,
        )
        relay = OutboxRelay(
            OutboxStream(self.redis),
            self.publisher,
            lambda e: key(e, "outbox"),
            convert,
            instance,
            2000,
            int(settings.checkout_outbox_claim_idle_seconds * 1000),
            self._count_relayed,
        )
        self.worker = CheckoutWorker(
            self.repository,
            relay,
            settings.checkout_sweep_interval_seconds,
            settings.checkout_retry_attempts,
            now_ms,
            lambda step: self.metrics.errors.labels(step).inc(),
        )
        self.health = Health(SERVICE_NAMES)
        self.grpc = create_server(self.health, SERVICE_NAMES, reuse_port=False)
        checkout_pb2_grpc.add_CheckoutServiceServicer_to_server(
            CheckoutServicer(
                CheckoutService(self.repository, self.verifier, per_hold, now_ms), self.metrics
            ),
            self.grpc,
        )
        self.http = HttpServer(self.registry, settings.grpc_host, settings.checkout_metrics_port)
        self.port = 0
        self._ready = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def _count_relayed(self, event_id: str, records: list[Record]) -> None:
        for record in records:
            self.metrics.relayed.labels(event_id, record.topic).inc()

    async def start(self) -> None:
        self.port = bind(self.grpc, self.settings.grpc_host, self.settings.checkout_grpc_port)
        await self.grpc.start()
        await self.health.start()
        await self.http.start()
        logger.info(
            "checkout serving gRPC on %s:%s, HTTP on %s",
            self.settings.grpc_host,
            self.port,
            self.http.port,
        )
        self._tasks.append(asyncio.create_task(self._connect_then_work()))

    async def wait_ready(self) -> None:
        await self._ready.wait()

    async def _connect_then_work(self) -> None:
        """Ready only once Redis, Kafka and the waitroom's JWKS answer; then consume and sweep."""
        await wait_for(self._connect, "Redis, Kafka and the JWKS")
        await self.health.set_ready(True)
        self._ready.set()
        logger.info("connected to Redis, Kafka and the JWKS; ready")
        await asyncio.gather(self.consumer.run(), self.worker.run())

    async def _connect(self) -> None:
        await self.repository.ping()
        await self.verifier.load()
        await self.publisher.start()
        await self.consumer.start()

    async def stop(self) -> None:
        await self.health.set_ready(False)
        await self.grpc.stop(self.settings.grpc_grace_seconds)
        self.consumer.stop()
        self.worker.stop()
        if not self._ready.is_set():
            for task in self._tasks:
                task.cancel()
        done, pending = await asyncio.wait(
            self._tasks, timeout=self.settings.checkout_shutdown_timeout_seconds
        )
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for task in done:
            if not task.cancelled() and task.exception():
                logger.error("checkout work ended with %r", task.exception())
        await self.consumer.close()
        await self.publisher.stop()
        await self.redis.aclose()
        await self.http.stop()
        logger.info("checkout stopped")


async def serve(settings: Settings) -> None:
    await run_until_signal(CheckoutServer(settings))
