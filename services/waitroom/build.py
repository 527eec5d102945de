"""How each part of the waitroom process is built from its settings (server.py wires them)."""

import os
import socket
from collections import Counter
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Gauge
from redis.asyncio import RedisCluster

from common.kafka.consumer import EACH_RECORD, ConsumerMetrics, EventConsumer
from common.kafka.handlers import each_record
from common.kafka.outbox import OutboxRelay, OutboxStream
from common.kafka.publisher import Publisher, Record
from common.process.lifecycle import now_ms
from common.redis.broadcast import Broadcast
from common.redis.client import RedisClient
from common.tokens.seal import SEAL_CONTEXT, PlaceSeal
from common.tokens.signing import (
    TokenSigner,
    load_or_create_private_key,
    load_private_key,
    load_public_key,
)
from waitroom.config import Settings
from waitroom.consumer import TOPICS, WaitroomHandlers
from waitroom.line_store import LineRepository
from waitroom.lines import Lines, LinesConfig
from waitroom.metrics import WaitroomMetrics
from waitroom.models import Defaults, ProcessorConfig
from waitroom.processor import QueueProcessor
from waitroom.relay import WaitroomOutbox
from waitroom.repository import WaitroomRepository, key
from waitroom.service import CheckoutOutcomes, QueueService
from waitroom.watch import WatchConfig, WatchHub
from waitroom.watch_store import WatchRepository

# Every replica's processor hears the others' hints here (an opening, a line to relay).
HINTS_CHANNEL = "waitroom:hints"


def build_signer(settings: Settings) -> TokenSigner:
    if settings.waitroom_signing_key is not None:
        key = load_private_key(settings.waitroom_signing_key.get_secret_value().encode())
    else:
        key = load_or_create_private_key(settings.waitroom_signing_key_file)
    retired = tuple(
        load_public_key(path.read_bytes()) for path in settings.waitroom_retired_key_files
    )
    return TokenSigner(key, retired)


def instance_name(settings: Settings, worker: int | None) -> str:
    """Names this process's relay and producer; each serving process of a pod its own."""
    configured = settings.waitroom_instance_id
    if not configured:
        return f"{socket.gethostname()}-{os.getpid()}"
    return configured if worker is None else f"{configured}-{worker}"


def build_defaults(settings: Settings) -> Defaults:
    return Defaults(
        max_concurrent=settings.queue_default_max_concurrent,
        batch_size=settings.queue_default_release_rate,
        checkout_ttl_seconds=int(settings.queue_default_checkout_ttl.total_seconds()),
        session_ttl_seconds=int(settings.queue_session_ttl.total_seconds()),
        process_interval_seconds=settings.queue_process_interval.total_seconds(),
    )


def build_hints(redis: RedisClient, instance: str) -> Broadcast:
    # pub/sub ignores database numbers: deployments sharing a Redis keep to their own (a
    # cluster has only database 0)
    database = (
        0
        if isinstance(redis, RedisCluster)
        else redis.connection_pool.connection_kwargs.get("db", 0)
    )
    return Broadcast(redis, f"{HINTS_CHANNEL}:{database}", instance)


def build_watch(
    settings: Settings, queue: QueueService, repository: WaitroomRepository, streams: Gauge
) -> WatchHub:
    ttl = settings.queue_session_ttl.total_seconds()
    config = WatchConfig(
        interval=settings.queue_process_interval.total_seconds(),
        max_silence=settings.watch_max_silence.total_seconds(),
        # well within the abandonment clock, so an open stream never loses its place (its
        # end is written at once; a process that dies leaves its place three quarters of it)
        presence_every=ttl / 4,
        streams_per_session=settings.watch_streams_per_session,
    )
    store = WatchRepository(repository.redis, repository.batch)
    return WatchHub(queue, store, config, now_ms, streams.set)


def build_seal(signer: TokenSigner) -> PlaceSeal:
    return PlaceSeal(signer.derived_key(SEAL_CONTEXT))


def build_lines(
    settings: Settings,
    queue: QueueService,
    repository: WaitroomRepository,
    seal: PlaceSeal,
    metrics: WaitroomMetrics,
) -> Lines:
    ttl = settings.queue_session_ttl.total_seconds()
    config = LinesConfig(
        interval=settings.queue_process_interval.total_seconds(),
        presence_every=min(60.0, ttl / 4),  # how often what is due is looked for
        refresh=ttl / 4,
        stopped=min(120.0, ttl / 4),
        left_for=ttl,
    )
    store = LineRepository(repository.redis, repository.batch, int(ttl))

    reads = {source: metrics.status_reads.labels(source) for source in ("memory", "redis")}

    def counted(source: str) -> None:
        reads[source].inc()

    return Lines(queue, store, seal, config, now_ms, counted)


def build_processor(
    settings: Settings,
    repository: WaitroomRepository,
    relay: OutboxRelay,
    metrics: WaitroomMetrics,
    hints: Broadcast,
    instance: str,
    admitted: Callable[[str], None],
) -> QueueProcessor:
    config = ProcessorConfig(
        interval=settings.queue_process_interval.total_seconds(),
        session_ttl_seconds=int(settings.queue_session_ttl.total_seconds()),
        retry_attempts=settings.queue_retry_attempts,
        retry_delay=settings.queue_retry_delay.total_seconds(),
        max_processing_duration=settings.queue_max_processing_duration.total_seconds(),
    )
    return QueueProcessor(
        repository, relay, config, metrics, instance, now_ms, hints.send, admitted
    )


def build_relay(
    settings: Settings,
    redis: RedisClient,
    publisher: Publisher,
    signer: TokenSigner,
    metrics: WaitroomMetrics,
    instance: str,
) -> OutboxRelay:
    def count_relayed(event_id: str, records: list[Record]) -> None:
        for topic, count in Counter(record.topic for record in records).items():
            metrics.relayed.labels(event_id, topic).inc(count)

    return OutboxRelay(
        OutboxStream(redis),
        publisher,
        lambda event_id: key(event_id, "outbox"),
        WaitroomOutbox(signer, build_seal(signer)).convert,
        instance,
        settings.queue_outbox_batch,
        int(settings.queue_outbox_claim_idle.total_seconds() * 1000),
        count_relayed,
    )


def build_consumer(
    settings: Settings,
    repository: WaitroomRepository,
    publisher: Publisher,
    registry: CollectorRegistry,
    sold_out: Callable[[str], None],
) -> EventConsumer:
    retry_delay = settings.queue_retry_delay.total_seconds()
    handlers = WaitroomHandlers(CheckoutOutcomes(repository, now_ms, sold_out))
    return EventConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=settings.waitroom_consumer_group,
        topic_names=TOPICS,
        handler=each_record(handlers, settings.queue_retry_attempts, retry_delay),
        dead_letters=publisher,
        metrics=ConsumerMetrics(registry, "waitroom"),
        retry_delays=(retry_delay,),
        **EACH_RECORD,
        offset_reset=settings.kafka_offset_reset,
    )
