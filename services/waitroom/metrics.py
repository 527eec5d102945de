"""The waitroom's Prometheus metrics, registered on one registry per server."""

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class WaitroomMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        def counter(name: str, doc: str, *labels: str) -> Counter:
            return Counter(name, doc, labels, registry=registry)

        def gauge(name: str, doc: str) -> Gauge:
            # the latest of the live processes: every replica sees the same line
            return Gauge(
                name, doc, ["event_id"], registry=registry, multiprocess_mode="livemostrecent"
            )

        def histogram(name: str, doc: str, *labels: str) -> Histogram:
            return Histogram(name, doc, labels, registry=registry)

        self.admitted = counter("waitroom_admitted", "People admitted to checkout", "event_id")
        self.reaped = counter("waitroom_holds_reaped", "Holds freed by their deadline", "event_id")
        self.errors = counter(
            "waitroom_processor_errors", "Failed admission or relay steps", "event_id", "step"
        )
        self.queue_length = gauge("waitroom_queue_length", "People waiting in line")
        self.processing = gauge("waitroom_processing", "People admitted and holding a slot")
        self.relayed = counter(
            "waitroom_outbox_relayed", "Outbox entries acknowledged by Kafka", "event_id", "topic"
        )
        self.cycle_seconds = histogram(
            "waitroom_cycle_duration_seconds", "Duration of one processor cycle over all events"
        )
        self.event_cycle_seconds = histogram(
            "waitroom_event_cycle_duration_seconds",
            "Admission time of one event in one cycle",
            "event_id",
        )
        self._serving(registry, counter)

    def _serving(self, registry: CollectorRegistry, counter: Callable[..., Counter]) -> None:
        self.watch_streams = Gauge(
            "waitroom_watch_streams",
            "Open WatchQueueStatus streams",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.status_reads = counter(
            "waitroom_status_reads", "GetQueueStatus answers by source: memory, redis", "source"
        )
        self.requests = counter(
            "waitroom_grpc_requests", "gRPC calls by method and status code", "method", "code"
        )
