"""Stats' settings, from environment variables with developer-machine defaults."""

from pydantic import Field

from common.process.settings import CommonSettings


class Settings(CommonSettings):
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
    stats_fetch_max_wait_ms: int = Field(100, ge=0)
    stats_retry_delays_seconds: list[float] = Field(default_factory=lambda: [1.0, 2.0, 3.0])
    stats_shutdown_timeout_seconds: float = Field(20, gt=0)
    # How often the per-event Prometheus gauges are refreshed.
    stats_metrics_refresh_seconds: float = Field(2.0, gt=0)
