"""The waitroom's Prometheus metrics, registered on one registry per server."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class WaitroomMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.admitted = Counter(
            "waitroom_admitted", "People admitted to checkout", ["event_id"], registry=registry
        )
        self.reaped = Counter(
            "waitroom_holds_reaped",
            "Holds freed by their deadline",
            ["event_id"],
            registry=registry,
        )
        self.errors = Counter(
            "waitroom_processor_errors",
            "Failed admission or relay steps",
            ["event_id", "step"],
            registry=registry,
        )
        self.queue_length = Gauge(
            "waitroom_queue_length",
            "People waiting in line",
            ["event_id"],
            registry=registry,
            multiprocess_mode="livemostrecent",
        )
        self.processing = Gauge(
            "waitroom_processing",
            "People admitted and holding a slot",
            ["event_id"],
            registry=registry,
            multiprocess_mode="livemostrecent",
        )
        self.relayed = Counter(
            "waitroom_outbox_relayed",
            "Outbox entries acknowledged by Kafka",
            ["event_id", "topic"],
            registry=registry,
        )
        self.cycle_seconds = Histogram(
            "waitroom_cycle_duration_seconds",
            "Duration of one processor cycle over all events",
            registry=registry,
        )
        self.event_cycle_seconds = Histogram(
            "waitroom_event_cycle_duration_seconds",
            "Admission time of one event in one cycle",
            ["event_id"],
            registry=registry,
        )
        self.requests = Counter(
            "waitroom_grpc_requests",
            "gRPC calls by method and status code",
            ["method", "code"],
            registry=registry,
        )
