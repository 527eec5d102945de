"""Checkout's Prometheus metrics."""

from prometheus_client import CollectorRegistry, Counter


class CheckoutMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "checkout_grpc_requests",
            "gRPC calls by method and status code",
            ["method", "code"],
            registry=registry,
        )
        self.relayed = Counter(
            "checkout_outbox_relayed",
            "Outbox entries acknowledged by Kafka",
            ["event_id", "topic"],
            registry=registry,
        )
        self.errors = Counter(
            "checkout_worker_errors", "Failed sweep or relay steps", ["step"], registry=registry
        )
