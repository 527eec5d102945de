"""Composition root: builds the clients, wires the parts, runs them, shuts them down."""

import asyncio
from dataclasses import replace

import grpc
from prometheus_client import CollectorRegistry

from common.kafka.publisher import publisher_for
from common.process.deadlines import shedding_for
from common.process.grpc_calls import add_service
from common.process.grpc_server import Health, create_server
from common.process.http import HttpServer
from common.process.lifecycle import ServiceProcess, now_ms, run, run_until_signal
from common.process.logging import configure_logging
from common.process.readiness import Dependency, redis_and_kafka
from common.process.workers import die_with_parent, workers_registry
from common.redis.client import connect
from waitroom.admin import EventAdmin
from waitroom.admin_servicer import AdminServicer
from waitroom.audit import AuditTrail
from waitroom.build import (
    build_consumer,
    build_defaults,
    build_hints,
    build_lines,
    build_processor,
    build_relay,
    build_seal,
    build_signer,
    build_watch,
    instance_name,
)
from waitroom.config import Settings
from waitroom.lines import Lines
from waitroom.metrics import WaitroomMetrics
from waitroom.processor import ProcessorStatus
from waitroom.repository import WaitroomRepository
from waitroom.service import QueueService
from waitroom.servicer import WaitroomServicer
from waitroom.watch import WATCH_HINT, WatchHub, hinted
from waitroomapi.waitroom.v1 import waitroom_pb2

SERVICE_NAMES = tuple(s.full_name for s in waitroom_pb2.DESCRIPTOR.services_by_name.values())


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
        instance = instance_name(settings, worker)
        self.registry = registry or CollectorRegistry()
        self.metrics = WaitroomMetrics(self.registry)
        self.redis = connect(settings)
        self.repository = WaitroomRepository(self.redis)
        self.broadcast = build_hints(self.redis, instance)
        self.signer = build_signer(settings)
        self.publisher = publisher_for(settings, f"waitroom-{instance}")
        relay = build_relay(
            settings, self.redis, self.publisher, self.signer, self.metrics, instance
        )
        changed = self.line_changed
        self.processor = build_processor(
            settings, self.repository, relay, self.metrics, self.broadcast, instance, changed
        )
        self.queue, self.watchers, self.lines = self._line(settings)
        self.consumer = build_consumer(
            settings, self.repository, self.publisher, self.registry, changed
        )
        health = Health(SERVICE_NAMES)
        grpc_server = self._grpc_server(health, admin_token, instance, worker is not None)
        super().__init__(
            grpc_server,
            health,
            self._http_server(worker),
            settings,
            settings.waitroom_grpc_port,
            settings.queue_shutdown_timeout.total_seconds(),
            self.registry,
        )

    def _line(self, settings: Settings) -> tuple[QueueService, WatchHub, Lines]:
        """The rules of the line, the hub that keeps its watchers up to date, and the views
        that answer its pollers."""
        defaults, seal = build_defaults(settings), build_seal(self.signer)
        relay_later, changed = self.processor.relay_later, self.line_changed
        queue = QueueService(
            self.repository, self.signer, defaults, now_ms, relay_later, changed, seal
        )
        watch = build_watch(settings, queue, self.repository, self.metrics.watch_streams)
        return queue, watch, build_lines(settings, queue, self.repository, seal, self.metrics)

    def _grpc_server(
        self, health: Health, admin_token: str, instance: str, reuse_port: bool
    ) -> grpc.aio.Server:
        processor, defaults = self.processor, build_defaults(self.settings)
        admin = EventAdmin(
            self.repository, defaults, now_ms, processor.admit_soon, self.line_changed
        )
        server = create_server(health, SERVICE_NAMES, reuse_port)

        def status() -> ProcessorStatus:  # HealthCheck's running: only while Redis answers
            return replace(processor.status, running=processor.status.running and health.ready)

        shedding = shedding_for(self.settings, self.registry, "waitroom")
        servicer = WaitroomServicer(
            self.queue, self.lines, self.watchers, status, self.metrics, instance, admin.list
        )
        add_service(server, servicer, shedding)
        audit = AuditTrail(self.repository.redis)
        add_service(server, AdminServicer(admin, admin_token, self.metrics, audit), shedding)
        return server

    def _http_server(self, worker: int | None) -> HttpServer:
        """Several serving processes: their summed metrics, on the first one's port."""
        return HttpServer(
            self.registry if worker is None else workers_registry(),
            self.settings.grpc_host,
            self.settings.waitroom_metrics_port if worker in (None, 0) else None,
            {"/.well-known/jwks.json": self.signer.jwks},
        )

    def line_changed(self, event_id: str) -> None:
        """Someone was admitted or left, or the event changed: every watcher hears it now."""
        self.watchers.poke(event_id)
        self.lines.poke(event_id)
        self.broadcast.send(f"{WATCH_HINT} {event_id}")

    def hear(self, hint: str) -> None:
        self.processor.hear(hint)
        self.watchers.hear(hint)
        if event_id := hinted(hint):  # another replica's line changed
            self.lines.poke(event_id)

    async def connect(self) -> None:
        await self.repository.ping()
        await self.publisher.start()
        await self.consumer.start()

    def watched(self) -> list[Dependency]:
        return redis_and_kafka(self.redis.ping, self.publisher.ping)

    async def work(self) -> None:
        await asyncio.gather(
            self.consumer.run(),
            self.processor.run(admit=self.settings.queue_processor_enabled),
            self.broadcast.listen(self.hear),
            self.watchers.run(),
            self.lines.run(),
        )

    def end_streams(self) -> None:
        self.watchers.shut()

    async def drain(self) -> None:
        """The processor finishes its cycle within QUEUE_SHUTDOWN_TIMEOUT; the consumer stops;
        the watch hub and the line views write the presence they hold."""
        self.processor.stop()
        self.watchers.stop()
        self.lines.stop()
        await self.broadcast.stop()
        await self.consumer.stop()

    async def close(self) -> None:
        await self.publisher.stop()
        await self.redis.aclose()


async def serve(settings: Settings, worker: int | None = None) -> None:
    await run_until_signal(WaitroomServer(settings, worker=worker))


def serve_worker(index: int) -> None:
    """One of several processes serving one port (spawned by `python -m waitroom`)."""
    die_with_parent()
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    run(serve(settings, worker=index))
