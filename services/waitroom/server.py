"""Composition root: builds the clients, wires the parts, runs them, shuts them down."""

import asyncio
import logging
import os
import socket
from collections import Counter

from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from common.kafka.consumer import EACH_RECORD, ConsumerMetrics, EventConsumer
from common.kafka.handlers import each_record
from common.kafka.outbox import OutboxRelay, OutboxStream
from common.kafka.publisher import Publisher, Record
from common.process.grpc_calls import add_service
from common.process.grpc_server import Health, create_server
from common.process.http import HttpServer
from common.process.lifecycle import ServiceProcess, now_ms, run, run_until_signal
from common.process.logging import configure_logging
from common.process.workers import die_with_parent
from common.redis.broadcast import Broadcast
from common.redis.client import connect
from common.tokens.signing import (
    TokenSigner,
    load_or_create_private_key,
    load_private_key,
    load_public_key,
)
from waitroom.admin import EventAdmin
from waitroom.config import Settings
from waitroom.consumer import TOPICS, WaitroomHandlers
from waitroom.metrics import WaitroomMetrics
from waitroom.models import Defaults, ProcessorConfig
from waitroom.processor import QueueProcessor
from waitroom.relay import WaitroomOutbox
from waitroom.repository import WaitroomRepository, key
from waitroom.service import CheckoutOutcomes, QueueService
from waitroom.servicer import AdminServicer, WaitroomServicer
from waitroomapi.waitroom.v1 import waitroom_pb2

logger = logging.getLogger(__name__)
# Every replica's processor hears the others' hints here (an opening, a line to relay).
HINTS_CHANNEL = "waitroom:hints"
SERVICE_NAMES = tuple(s.full_name for s in waitroom_pb2.DESCRIPTOR.services_by_name.values())


def build_signer(settings: Settings) -> TokenSigner:
    if settings.waitroom_signing_key is not None:
        key = load_private_key(settings.waitroom_signing_key.get_secret_value().encode())
    else:
        key = load_or_create_private_key(settings.waitroom_signing_key_file)
    retired = tuple(
        load_public_key(path.read_bytes()) for path in settings.waitroom_retired_key_files
    )
    return TokenSigner(key, retired)


class WaitroomServer(ServiceProcess):
    """The waitroom process: gRPC API, HTTP metrics and JWKS, and the queue processor."""

    name = "waitroom"

    def __init__(
        self,
        settings: Settings,
        registry: CollectorRegistry | None = None,
        worker: int | None = None,
    ) -> None:
        """worker: this process's index among several serving one port, or None if alone."""
        self.settings = settings
        admin_token = settings.admin_token()  # refuses to start off loopback without one
        instance = settings.waitroom_instance_id or f"{socket.gethostname()}-{os.getpid()}"
        if worker is not None and settings.waitroom_instance_id:
            instance = f"{instance}-{worker}"  # processes of one pod: each its own relay and name
        self.registry = registry or CollectorRegistry()
        self.metrics = WaitroomMetrics(self.registry)
        self.redis = connect(settings)
        self.repository = WaitroomRepository(self.redis)
        # pub/sub ignores database numbers: deployments sharing a Redis keep to their own
        database = self.redis.connection_pool.connection_kwargs.get("db", 0)
        self.broadcast = Broadcast(self.redis, f"{HINTS_CHANNEL}:{database}", instance)
        self.signer = build_signer(settings)
        self.publisher = Publisher(
            settings.kafka_bootstrap_servers,
            settings.kafka_send_timeout.total_seconds(),
            f"waitroom-{instance}",
        )
        defaults = Defaults(
            max_concurrent=settings.queue_default_max_concurrent,
            batch_size=settings.queue_default_release_rate,
            checkout_ttl_seconds=int(settings.queue_default_checkout_ttl.total_seconds()),
            session_ttl_seconds=int(settings.queue_session_ttl.total_seconds()),
            process_interval_seconds=settings.queue_process_interval.total_seconds(),
        )
        relay = OutboxRelay(
            OutboxStream(self.redis),
            self.publisher,
            lambda event_id: key(event_id, "outbox"),
            WaitroomOutbox(self.signer).convert,
            instance,
            settings.queue_outbox_batch,
            int(settings.queue_outbox_claim_idle.total_seconds() * 1000),
            self._count_relayed,
        )
        self.processor = QueueProcessor(
            self.repository,
            relay,
            ProcessorConfig(
                interval=settings.queue_process_interval.total_seconds(),
                session_ttl_seconds=defaults.session_ttl_seconds,
                retry_attempts=settings.queue_retry_attempts,
                retry_delay=settings.queue_retry_delay.total_seconds(),
                max_processing_duration=settings.queue_max_processing_duration.total_seconds(),
            ),
            self.metrics,
            instance,
            now_ms,
            self.broadcast.send,
        )
        retry_delay = settings.queue_retry_delay.total_seconds()
        self.consumer = EventConsumer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            group_id=settings.waitroom_consumer_group,
            topic_names=TOPICS,
            handler=each_record(
                WaitroomHandlers(CheckoutOutcomes(self.repository, now_ms)),
                settings.queue_retry_attempts,
                retry_delay,
            ),
            dead_letters=self.publisher,
            metrics=ConsumerMetrics(self.registry, "waitroom"),
            retry_delays=(retry_delay,),
            **EACH_RECORD,
            offset_reset=settings.kafka_offset_reset,
        )
        health = Health(SERVICE_NAMES)
        grpc_server = create_server(health, SERVICE_NAMES, reuse_port=worker is not None)
        admin = EventAdmin(self.repository, defaults, now_ms, self.processor.admit_soon)
        add_service(
            grpc_server,
            WaitroomServicer(
                QueueService(
                    self.repository, self.signer, defaults, now_ms, self.processor.relay_later
                ),
                lambda: self.processor.status,
                self.metrics,
                instance,
                admin.list,
            ),
        )
        add_service(grpc_server, AdminServicer(admin, admin_token, self.metrics))
        http = HttpServer(
            self.registry if worker is None else workers_registry(),
            settings.grpc_host,
            settings.waitroom_metrics_port if worker in (None, 0) else None,
            {"/.well-known/jwks.json": self.signer.jwks},
        )
        super().__init__(
            grpc_server,
            health,
            http,
            settings.grpc_host,
            settings.waitroom_grpc_port,
            settings.grpc_grace.total_seconds(),
            settings.queue_shutdown_timeout.total_seconds(),
        )

    def _count_relayed(self, event_id: str, records: list[Record]) -> None:
        for topic, count in Counter(record.topic for record in records).items():
            self.metrics.relayed.labels(event_id, topic).inc(count)

    async def connect(self) -> None:
        await self.repository.ping()
        await self.publisher.start()
        await self.consumer.start()

    async def work(self) -> None:
        await asyncio.gather(
            self.consumer.run(),
            self.processor.run(admit=self.settings.queue_processor_enabled),
            self.broadcast.listen(self.processor.hear),
        )

    async def drain(self) -> None:
        """The processor finishes its cycle within QUEUE_SHUTDOWN_TIMEOUT; the consumer stops."""
        self.processor.stop()
        await self.broadcast.stop()
        await self.consumer.stop()

    async def close(self) -> None:
        await self.publisher.stop()
        await self.redis.aclose()


def workers_registry() -> CollectorRegistry:
    """The metrics of every serving process, summed from prometheus_client's shared files."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


async def serve(settings: Settings, worker: int | None = None) -> None:
    await run_until_signal(WaitroomServer(settings, worker=worker))


def serve_worker(index: int) -> None:
    """One of several processes serving one port (spawned by `python -m waitroom`)."""
    die_with_parent()
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    run(serve(settings, worker=index))
