"""The waitroom's settings, from environment variables with developer-machine defaults."""

from datetime import timedelta
from pathlib import Path

from pydantic import Field, SecretStr

from common.process.settings import CommonSettings, Duration

DEV_ADMIN_TOKEN = "dev-admin-token"


class Settings(CommonSettings):
    queue_process_interval: Duration = timedelta(seconds=1)
    queue_default_max_concurrent: int = Field(100, ge=1)
    queue_default_release_rate: int = Field(10, ge=1)
    queue_default_checkout_ttl: Duration = timedelta(minutes=15)
    queue_session_ttl: Duration = timedelta(hours=2)
    queue_retry_attempts: int = Field(3, ge=1)
    queue_retry_delay: Duration = timedelta(milliseconds=200)
    queue_shutdown_timeout: Duration = timedelta(seconds=30)
    queue_max_processing_duration: Duration = timedelta(seconds=30)
    # A replica that died with outbox entries in hand: others take them over after this idle time.
    queue_outbox_claim_idle: Duration = timedelta(seconds=10)
    queue_outbox_batch: int = Field(2000, ge=1)
    queue_processor_enabled: bool = True
    # WatchQueueStatus: a stream hears at least this often (a keepalive through proxies that
    # close idle connections, often after 60 s), and one session opens at most this many
    # streams on one serving process.
    watch_max_silence: Duration = timedelta(seconds=20)
    watch_streams_per_session: int = Field(3, ge=1)

    # Processes serving the gRPC port together (SO_REUSEPORT), each with its own processor,
    # relay and consumer: 0 means one per CPU core. In Kubernetes, 1 per pod.
    waitroom_serving_processes: int = Field(0, ge=0)
    # A serving process that ends is replaced; past this many restarts within the window the
    # supervisor gives up and stops them all (its own supervisor restarts the whole set).
    waitroom_restart_limit: int = Field(5, ge=0)
    waitroom_restart_window: Duration = timedelta(seconds=60)
    waitroom_grpc_port: int = 50051
    waitroom_metrics_port: int = 9101
    waitroom_admin_token: SecretStr | None = None
    waitroom_signing_key: SecretStr | None = None
    waitroom_signing_key_file: Path = Path("var/keys/waitroom-signing.pem")
    # Public keys (PEM files) still accepted during a key rotation, published in the JWKS.
    waitroom_retired_key_files: list[Path] = Field(default_factory=list)
    waitroom_instance_id: str = ""
    # Consumers of CHECKOUT_* and EVENT_SOLD_OUT; replicas of one deployment share the group.
    waitroom_consumer_group: str = "waitroom"

    def admin_token(self) -> str:
        """The admin token; on loopback a development default, elsewhere required."""
        if self.waitroom_admin_token and self.waitroom_admin_token.get_secret_value():
            return self.waitroom_admin_token.get_secret_value()
        if self.binds_loopback_only():
            return DEV_ADMIN_TOKEN
        raise ValueError(
            f"WAITROOM_ADMIN_TOKEN is required when serving on {self.grpc_host} (not loopback)"
        )
