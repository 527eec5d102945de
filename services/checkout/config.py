"""Checkout's settings, from environment variables with developer-machine defaults."""

from datetime import timedelta
from typing import ClassVar

from pydantic import Field

from common.process.settings import CommonSettings, Duration


class Settings(CommonSettings):
    old_names: ClassVar[tuple[str, ...]] = (
        "checkout_jwks_refresh_seconds",
        "checkout_sweep_interval_seconds",
        "checkout_outbox_claim_idle_seconds",
        "checkout_shutdown_timeout_seconds",
    )

    checkout_grpc_port: int = 50052
    checkout_metrics_port: int = 9102
    checkout_jwks_url: str = "http://127.0.0.1:9101/.well-known/jwks.json"
    checkout_jwks_refresh: Duration = timedelta(minutes=5)
    # Tickets set aside for each admitted person: the most one person can buy.
    checkout_tickets_per_hold: int = Field(4, ge=1)
    checkout_sweep_interval: Duration = timedelta(seconds=1)
    checkout_consumer_group: str = "checkout"
    checkout_retry_attempts: int = Field(3, ge=1)
    checkout_retry_delay: Duration = timedelta(milliseconds=200)
    # A replica that died with outbox entries in hand: others take them over after this idle time.
    checkout_outbox_claim_idle: Duration = timedelta(seconds=10)
    checkout_outbox_batch: int = Field(2000, ge=1)
    checkout_instance_id: str = ""
    checkout_shutdown_timeout: Duration = timedelta(seconds=30)
