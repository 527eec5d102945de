"""Settings: durations read like the source system's; every renamed setting keeps its old name."""

from datetime import timedelta

import pytest

from checkout.config import Settings as CheckoutSettings
from common.process.settings import CommonSettings
from stats.config import Settings as StatsSettings
from waitroom.config import Settings

SECOND = timedelta(seconds=1)
# (Settings, new name, a value in the new style, old name, the same value in the old unit, expected)
RENAMED = [
    (CommonSettings, "REDIS_POOL_TIMEOUT", "2s", "REDIS_POOL_TIMEOUT_SECONDS", "2", 2 * SECOND),
    (CommonSettings, "KAFKA_SEND_TIMEOUT", "3s", "KAFKA_SEND_TIMEOUT_SECONDS", "3", 3 * SECOND),
    (CommonSettings, "GRPC_GRACE", "500ms", "GRPC_GRACE_SECONDS", "0.5", SECOND / 2),
    (
        CheckoutSettings,
        "CHECKOUT_JWKS_REFRESH",
        "1m",
        "CHECKOUT_JWKS_REFRESH_SECONDS",
        "60",
        60 * SECOND,
    ),
    (
        CheckoutSettings,
        "CHECKOUT_SWEEP_INTERVAL",
        "2s",
        "CHECKOUT_SWEEP_INTERVAL_SECONDS",
        "2",
        2 * SECOND,
    ),
    (
        CheckoutSettings,
        "CHECKOUT_OUTBOX_CLAIM_IDLE",
        "20s",
        "CHECKOUT_OUTBOX_CLAIM_IDLE_SECONDS",
        "20",
        20 * SECOND,
    ),
    (
        CheckoutSettings,
        "CHECKOUT_SHUTDOWN_TIMEOUT",
        "1m",
        "CHECKOUT_SHUTDOWN_TIMEOUT_SECONDS",
        "60",
        60 * SECOND,
    ),
    (StatsSettings, "STATS_FETCH_MAX_WAIT", "250ms", "STATS_FETCH_MAX_WAIT_MS", "250", SECOND / 4),
    (
        StatsSettings,
        "STATS_SHUTDOWN_TIMEOUT",
        "5s",
        "STATS_SHUTDOWN_TIMEOUT_SECONDS",
        "5",
        5 * SECOND,
    ),
    (
        StatsSettings,
        "STATS_METRICS_REFRESH",
        "4s",
        "STATS_METRICS_REFRESH_SECONDS",
        "4",
        4 * SECOND,
    ),
]
IDS = [new for _, new, *_ in RENAMED]
FIELDS = ("settings", "new", "value", "old", "old_value", "expected")


def test_durations_read_like_the_source_system(monkeypatch):
    monkeypatch.setenv("QUEUE_PROCESS_INTERVAL", "500ms")
    monkeypatch.setenv("QUEUE_SESSION_TTL", "1h30m")
    monkeypatch.setenv("QUEUE_RETRY_DELAY", "2")  # a bare number counts seconds
    settings = Settings()
    assert settings.queue_process_interval.total_seconds() == 0.5
    assert settings.queue_session_ttl.total_seconds() == 5400
    assert settings.queue_retry_delay.total_seconds() == 2
    assert settings.queue_shutdown_timeout.total_seconds() == 30


@pytest.mark.parametrize(FIELDS, RENAMED, ids=IDS)
def test_a_renamed_setting_reads_its_new_name(
    monkeypatch, settings, new, value, old, old_value, expected
):
    monkeypatch.delenv(old, raising=False)
    monkeypatch.setenv(new, value)
    assert getattr(settings(), new.lower()) == expected


@pytest.mark.parametrize(FIELDS, RENAMED, ids=IDS)
def test_a_renamed_setting_still_reads_its_old_name_in_its_old_unit(
    monkeypatch, settings, new, value, old, old_value, expected
):
    monkeypatch.delenv(new, raising=False)
    monkeypatch.setenv(old, old_value)
    assert getattr(settings(), new.lower()) == expected


def test_a_list_of_durations_reads_either_name(monkeypatch):
    monkeypatch.setenv("STATS_RETRY_DELAYS", '["500ms", "1s"]')
    assert StatsSettings().stats_retry_delays == [SECOND / 2, SECOND]
    monkeypatch.delenv("STATS_RETRY_DELAYS")
    monkeypatch.setenv("STATS_RETRY_DELAYS_SECONDS", "[1, 2.5]")
    assert StatsSettings().stats_retry_delays == [SECOND, 2.5 * SECOND]


def test_the_new_name_wins_over_the_old_one(monkeypatch):
    monkeypatch.setenv("STATS_FETCH_MAX_WAIT", "1s")
    monkeypatch.setenv("STATS_FETCH_MAX_WAIT_MS", "250")
    assert StatsSettings().stats_fetch_max_wait == SECOND


def test_an_old_name_also_works_as_a_keyword(monkeypatch):
    monkeypatch.delenv("CHECKOUT_SWEEP_INTERVAL", raising=False)
    settings = CheckoutSettings(checkout_sweep_interval_seconds=0.1)
    assert settings.checkout_sweep_interval == SECOND / 10
    assert StatsSettings(stats_fetch_max_wait_ms=5).stats_fetch_max_wait == SECOND / 200


def test_the_literals_that_became_settings_keep_their_values():
    settings = CheckoutSettings()
    assert (settings.checkout_outbox_batch, settings.checkout_retry_delay) == (2000, SECOND / 5)


def test_off_loopback_the_service_refuses_to_start_without_an_admin_token(monkeypatch):
    monkeypatch.setenv("GRPC_HOST", "0.0.0.0")
    monkeypatch.delenv("WAITROOM_ADMIN_TOKEN", raising=False)
    with pytest.raises(ValueError, match="WAITROOM_ADMIN_TOKEN is required"):
        Settings().admin_token()
    monkeypatch.setenv("GRPC_HOST", "127.0.0.1")
    assert Settings().admin_token() == "dev-admin-token"
