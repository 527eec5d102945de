"""Every figure of every event as a Prometheus gauge with an event label, plus the pool's state."""

from prometheus_client import CollectorRegistry, Counter, Gauge

from common.kafka.taskpool import PoolState
from stats.models import EventFigures

FIGURES = (
    "joined",
    "queued_now",
    "admitted",
    "in_checkout_now",
    "completed",
    "expired",
    "cancelled",
    "left",
    "sold_out_in_line",
    "tickets_total",
    "tickets_sold",
    "tickets_left",
    "conversion_rate",
    "admission_rate_per_second",
    "estimated_clear_seconds",
)


class StatsMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "stats_grpc_requests",
            "gRPC calls by method and status code",
            ["method", "code"],
            registry=registry,
        )
        self._figures = {
            name: Gauge(
                f"stats_event_{name}",
                f"{name.replace('_', ' ')} per event",
                ["event_id"],
                registry=registry,
            )
            for name in FIGURES
        }
        self._sold_out = Gauge(
            "stats_event_sold_out", "1 once the event sold out", ["event_id"], registry=registry
        )
        self._wait = Gauge(
            "stats_event_wait_seconds",
            "Wait from join to admission",
            ["event_id", "quantile"],
            registry=registry,
        )
        self._checkout = Gauge(
            "stats_event_checkout_seconds",
            "Time from admission to outcome",
            ["event_id", "quantile"],
            registry=registry,
        )
        self._pool = Gauge(
            "stats_task_pool", "The task pool's state", ["figure"], registry=registry
        )

    def observe(self, figures: EventFigures) -> None:
        e = figures.event_id
        for name, gauge in self._figures.items():
            gauge.labels(e).set(getattr(figures, name))
        self._sold_out.labels(e).set(int(figures.sold_out))
        for quantile, wait, checkout in zip(
            ("0.5", "0.9", "0.99"), figures.wait_seconds, figures.checkout_seconds, strict=True
        ):
            self._wait.labels(e, quantile).set(wait)
            self._checkout.labels(e, quantile).set(checkout)

    def observe_pool(self, state: PoolState) -> None:
        for name in PoolState.__dataclass_fields__:
            self._pool.labels(name).set(getattr(state, name))
