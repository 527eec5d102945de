"""Checkout's settings, from environment variables with developer-machine defaults."""

from pydantic import Field

from common.process.settings import CommonSettings


class Settings(CommonSettings):
    checkout_grpc_port: int = 50052
    checkout_metrics_port: int = 9102
    checkout_jwks_url: str = "http://127.0.0.1:9101/.well-known/jwks.json"
    checkout_jwks_refresh_seconds: float = Field(300, gt=0)
    # Tickets set aside for each admitted person: the most one person can buy.
    checkout_tickets_per_hold: int = Field(4, ge=1)
    checkout_sweep_interval_seconds: float = Field(1.0, gt=0)
    checkout_consumer_group: str = "checkout"
    checkout_retry_attempts: int = Field(3, ge=1)
    checkout_outbox_claim_idle_seconds: float = Field(10, gt=0)
    checkout_instance_id: str = ""
    checkout_shutdown_timeout_seconds: float = Field(30, gt=0)
