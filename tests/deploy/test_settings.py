"""The manifests configure exactly the services' settings, and probe the ports they serve."""

import json
from urllib.parse import urlsplit

import pytest

from common.process.grpc_server import LIVENESS
from common.process.settings import CommonSettings
from tests.deploy.manifests import (
    SETTINGS,
    Resource,
    container,
    container_env,
    named,
    port,
)

OVERLAYS = ("dev", "production")
# Settings the manifests leave to the default, and why.
LEFT_OUT = {
    "waitroom": {"WAITROOM_SIGNING_KEY_FILE"},  # the key comes from a Secret: WAITROOM_SIGNING_KEY
}
SHUTDOWN_TIMEOUT = {
    "waitroom": lambda s: s.queue_shutdown_timeout.total_seconds(),
    "checkout": lambda s: s.checkout_shutdown_timeout.total_seconds(),
    "stats": lambda s: s.stats_shutdown_timeout.total_seconds(),
}


def env_names(service: str) -> set[str]:
    return {name.upper() for name in SETTINGS[service].model_fields}


def settings_in_pod(
    resources: list[Resource], service: str, monkeypatch: pytest.MonkeyPatch
) -> CommonSettings:
    """The service's Settings as the container's environment makes them."""
    for name in env_names(service):
        monkeypatch.delenv(name, raising=False)
    for name, value in container_env(resources, named(resources, "Deployment", service)).items():
        monkeypatch.setenv(name, value)
    return SETTINGS[service]()


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("service", sorted(SETTINGS))
def test_each_container_gets_exactly_its_service_settings(
    rendered: dict[str, list[Resource]], overlay: str, service: str
) -> None:
    resources = rendered[overlay]
    given = set(container_env(resources, named(resources, "Deployment", service)))
    expected = env_names(service) - LEFT_OUT.get(service, set())
    assert given - env_names(service) == set(), "variables that are no setting of the service"
    assert expected - given == set(), "settings the manifests do not set"


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("service", sorted(SETTINGS))
def test_each_service_settings_parse_from_the_pod_environment(
    rendered: dict[str, list[Resource]], overlay: str, service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_in_pod(rendered[overlay], service, monkeypatch)
    assert settings.grpc_host == "0.0.0.0", "a pod must serve on every interface"


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("service", sorted(SETTINGS))
def test_probes_and_ports_match_the_ports_the_service_serves(
    rendered: dict[str, list[Resource]], overlay: str, service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    resources = rendered[overlay]
    spec = container(named(resources, "Deployment", service))
    settings = settings_in_pod(resources, service, monkeypatch)
    fields = SETTINGS[service].model_fields
    grpc_port = getattr(settings, f"{service}_grpc_port")
    assert grpc_port == fields[f"{service}_grpc_port"].default == port(spec, "grpc")
    metrics_port = getattr(settings, f"{service}_metrics_port")
    assert metrics_port == fields[f"{service}_metrics_port"].default == port(spec, "metrics")
    probes = {kind: spec[f"{kind}Probe"]["grpc"] for kind in ("startup", "liveness", "readiness")}
    assert {probe["port"] for probe in probes.values()} == {grpc_port}
    assert probes["liveness"]["service"] == probes["startup"]["service"] == LIVENESS
    assert probes["readiness"].get("service", "") == "", "readiness is the whole server's health"


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("service", sorted(SETTINGS))
def test_termination_grace_outlasts_the_service_shutdown(
    rendered: dict[str, list[Resource]], overlay: str, service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    resources = rendered[overlay]
    deployment = named(resources, "Deployment", service)
    pod = deployment["spec"]["template"]["spec"]
    settings = settings_in_pod(resources, service, monkeypatch)
    pre_stop = container(deployment)["lifecycle"]["preStop"]
    shutdown = pre_stop["sleep"]["seconds"] + settings.grpc_grace.total_seconds()
    shutdown += SHUTDOWN_TIMEOUT[service](settings)
    assert pod["terminationGracePeriodSeconds"] > shutdown


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_checkout_finds_the_jwks_on_the_waitroom_service(
    rendered: dict[str, list[Resource]], overlay: str
) -> None:
    resources = rendered[overlay]
    checkout_env = container_env(resources, named(resources, "Deployment", "checkout"))
    url = urlsplit(checkout_env["CHECKOUT_JWKS_URL"])
    service = named(resources, "Service", "waitroom")
    http = [p for p in service["spec"]["ports"] if p["port"] == url.port]
    assert url.hostname == "waitroom"
    assert url.path == "/.well-known/jwks.json"
    assert [p["targetPort"] for p in http] == ["metrics"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_retired_key_file_is_mounted_from_the_signing_key_secret(
    rendered: dict[str, list[Resource]], overlay: str
) -> None:
    resources = rendered[overlay]
    deployment = named(resources, "Deployment", "waitroom")
    env = container_env(resources, deployment)
    mounts = {m["name"]: m["mountPath"] for m in container(deployment)["volumeMounts"]}
    files = {
        f"{mounts[volume['name']]}/{item['path']}"
        for volume in deployment["spec"]["template"]["spec"]["volumes"]
        if "secret" in volume and volume["secret"]["secretName"].startswith("waitroom-signing-key")
        for item in volume["secret"]["items"]
    }
    assert set(json.loads(env["WAITROOM_RETIRED_KEY_FILES"])) <= files
    assert env["WAITROOM_SERVING_PROCESSES"] == "1", "Kubernetes scales with pods"
