"""Stats' settings, from environment variables with developer-machine defaults."""

from datetime import timedelta
from typing import ClassVar

from pydantic import Field

from common.process.settings import CommonSettings, Duration


class Settings(CommonSettings):
    old_names: ClassVar[tuple[str, ...]] = (
        "stats_fetch_max_wait_ms",
        "stats_retry_delays_seconds",
        "stats_shutdown_timeout_seconds",
        "stats_metrics_refresh_seconds",
    )

    stats_grpc_port: int = 50053
    stats_metrics_port: int = 9103
    stats_consumer_group: str = "stats"
    # The task pool of the source document: workers, buffer, and the backoff between retries.
    stats_workers: int = Field(3, ge=1)
    stats_buffer: int = Field(100, ge=1)
    # Records per task: a task applies its batch in one script call per event.
    stats_batch: int = Field(50, ge=1)
    # Kafka answers stats' fetches once this much is there, or after the wait: in a crowd
    # fewer, bigger fetches; figures trail the stream by at most the wait.
    stats_fetch_min_bytes: int = Field(64 * 1024, ge=1)
    stats_fetch_max_wait: Duration = timedelta(milliseconds=100)
    stats_retry_delays: list[Duration] = Field(
        default_factory=lambda: [timedelta(seconds=s) for s in (1, 2, 3)]
    )
    stats_shutdown_timeout: Duration = timedelta(seconds=20)
    # How often the per-event Prometheus gauges are refreshed.
    stats_metrics_refresh: Duration = timedelta(seconds=2)
