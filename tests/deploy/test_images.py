"""The one Dockerfile, read (no Docker engine here to build it): pinned, non-root, one service."""

import re
import runpy

import pytest

from tests.deploy.manifests import REPO, SETTINGS

DOCKERFILE = REPO / "deploy" / "docker" / "Dockerfile"
IGNORE = (REPO / ".dockerignore").read_text().split()
INCLUDED = [line[1:].rstrip("/") for line in IGNORE if line.startswith("!")]


def instructions(service: str) -> list[tuple[str, str]]:
    """The Dockerfile's instructions as `docker build --build-arg SERVICE=<service>` reads them."""
    text = DOCKERFILE.read_text().replace("\\\n", " ").replace("${SERVICE}", service)
    lines = (line.strip() for line in text.splitlines())
    steps = (line.partition(" ") for line in lines if line and not line.startswith("#"))
    return [(op, value.strip()) for op, _, value in steps]


def grpc_port_of_healthcheck(service: str) -> int:
    """The port deploy/docker/healthcheck.py probes for the service."""
    healthcheck = runpy.run_path(str(DOCKERFILE.with_name("healthcheck.py")))
    return int(healthcheck["grpc_port"](service))


def test_every_runnable_service_has_its_settings_checked_here() -> None:
    runnable = {path.parent.name for path in (REPO / "services").glob("*/__main__.py")}
    assert runnable == set(SETTINGS)


@pytest.mark.parametrize("service", sorted(SETTINGS))
def test_each_image_has_a_pinned_base_a_non_root_user_and_the_service_entry_point(
    service: str,
) -> None:
    steps = instructions(service)
    base = [value for op, value in steps if op == "ARG" and value.startswith("PYTHON_IMAGE=")]
    assert re.fullmatch(
        r"PYTHON_IMAGE=python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", base[0]
    )
    assert [value for op, value in steps if op == "FROM"][-1] == "${PYTHON_IMAGE}"
    assert [value for op, value in steps if op == "USER"] == ["10001:10001"]
    env = next(value for op, value in steps if op == "ENV" and "SERVICE=" in value)
    assert f"SERVICE={service}" in env.split()
    assert steps[-1] == ("ENTRYPOINT", '["/bin/sh", "-c", "exec python -m \\"$SERVICE\\""]')
    assert any(op == "HEALTHCHECK" and "/app/healthcheck.py" in v for op, v in steps)


@pytest.mark.parametrize("service", sorted(SETTINGS))
def test_each_image_copies_only_its_own_service_from_the_build_context(service: str) -> None:
    copies = [
        v.split()[:-1] for op, v in instructions(service) if op == "COPY" and "--from" not in v
    ]
    sources = [source for sources in copies for source in sources]
    assert all((REPO / source).exists() for source in sources)
    assert all(any(source.startswith(kept) for kept in INCLUDED) for source in sources)
    assert {s for s in sources if s.startswith("services/")} == {f"services/{service}"}
    assert "uv sync --frozen --no-dev" in DOCKERFILE.read_text()


def test_no_service_keeps_a_dockerfile_of_its_own() -> None:
    assert list((REPO / "services").glob("*/Dockerfile")) == []


@pytest.mark.parametrize("service", sorted(SETTINGS))
def test_the_health_check_probes_the_port_the_service_serves(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    variable = f"{service.upper()}_GRPC_PORT"
    monkeypatch.delenv(variable, raising=False)
    default = SETTINGS[service].model_fields[f"{service}_grpc_port"].default
    assert grpc_port_of_healthcheck(service) == default
    monkeypatch.setenv(variable, "50999")
    assert grpc_port_of_healthcheck(service) == 50999
