"""Settings every service shares: where Redis, Kafka and its own ports are."""

import ipaddress

from pydantic_settings import BaseSettings, SettingsConfigDict


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_max_connections: int = 200
    redis_pool_timeout_seconds: float = 5.0
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_send_timeout_seconds: float = 10.0
    # Where a new consumer group starts: "earliest" misses nothing (tests use "latest").
    kafka_offset_reset: str = "earliest"
    log_level: str = "INFO"
    log_format: str = "json"
    grpc_host: str = "127.0.0.1"
    grpc_grace_seconds: float = 10.0

    def binds_loopback_only(self) -> bool:
        if self.grpc_host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.grpc_host).is_loopback
        except ValueError:
            return False
