"""Settings every service shares (where Redis, Kafka and its own ports are) and their types."""

import ipaddress
import json
import os
import re
from datetime import timedelta
from typing import Annotated, Any, ClassVar

from pydantic import BeforeValidator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
# The unit an old setting's name ends in, as the suffix of a duration.
_OLD_UNITS = {"_seconds": "s", "_ms": "ms"}


def _duration(value: object) -> object:
    """Accepts Go-style durations such as 500ms, 1s, 2h or 1h30m, as the source system did,
    and a bare number of seconds."""
    if isinstance(value, str) and _NUMBER.fullmatch(value):
        return timedelta(seconds=float(value))
    if isinstance(value, str) and value and _DURATION.sub("", value) == "":
        return timedelta(
            seconds=sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION.findall(value))
        )
    return value


Duration = Annotated[timedelta, BeforeValidator(_duration)]


def _in_unit(value: Any, unit: str) -> Any:
    """An old setting's value (a number, or a JSON list of numbers) as durations."""
    if isinstance(value, str) and value.lstrip().startswith("["):
        value = json.loads(value)
    if isinstance(value, list):
        return [_in_unit(item, unit) for item in value]
    return f"{value}{unit}" if isinstance(value, int | float | str) else value


def _old_names(settings_cls: type) -> set[str]:
    return {name for c in settings_cls.__mro__ for name in getattr(c, "old_names", ())}


def _renamed(old: str) -> tuple[str, str]:
    """The new name of an old setting and the unit the old name counted in."""
    suffix = next(s for s in _OLD_UNITS if old.endswith(s))
    return old.removesuffix(suffix), _OLD_UNITS[suffix]


class _OldNames(PydanticBaseSettingsSource):
    """The environment variables of the settings' old names, so that they keep working."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        environ = {name.lower(): value for name, value in os.environ.items()}
        return {old: environ[old] for old in _old_names(self.settings_cls) if old in environ}


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore")
    # Names that a release renamed; each still works, in the unit its name ends in.
    old_names: ClassVar[tuple[str, ...]] = (
        "redis_pool_timeout_seconds",
        "kafka_send_timeout_seconds",
        "grpc_grace_seconds",
    )

    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_max_connections: int = 200
    redis_pool_timeout: Duration = timedelta(seconds=5)
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_send_timeout: Duration = timedelta(seconds=10)
    # Where a new consumer group starts: "earliest" misses nothing (tests use "latest").
    kafka_offset_reset: str = "earliest"
    log_level: str = "INFO"
    log_format: str = "json"
    grpc_host: str = "127.0.0.1"
    grpc_grace: Duration = timedelta(seconds=10)
    # A call's work ends the margin before its deadline (UNAVAILABLE with a retry hint); one
    # that would have less than the minimum to work is refused at once (DEADLINE_EXCEEDED).
    grpc_min_deadline: Duration = timedelta(milliseconds=20)
    grpc_deadline_margin: Duration = timedelta(milliseconds=30)
    # Readiness follows Redis: probed this often, NOT_SERVING once it failed for the window.
    health_probe_interval: Duration = timedelta(seconds=1)
    health_failure_window: Duration = timedelta(seconds=3)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        old = _OldNames(settings_cls)
        return init_settings, env_settings, dotenv_settings, file_secret_settings, old

    @model_validator(mode="before")
    @classmethod
    def _from_old_names(cls, data: Any) -> Any:
        """An old name's value under its new name and unit, unless the new name is given too."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for old in _old_names(cls):
            if old in data:
                new, unit = _renamed(old)
                value = _in_unit(data.pop(old), unit)
                data.setdefault(new, value)
        return data

    def binds_loopback_only(self) -> bool:
        if self.grpc_host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.grpc_host).is_loopback
        except ValueError:
            return False
