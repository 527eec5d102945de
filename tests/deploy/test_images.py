"""The Dockerfiles, read (no Docker engine here to build them): pinned, non-root, one service."""

import re

import pytest

from tests.deploy.manifests import REPO, SETTINGS

IGNORE = (REPO / ".dockerignore").read_text().split()
INCLUDED = [line[1:].rstrip("/") for line in IGNORE if line.startswith("!")]


def instructions(service: str) -> list[tuple[str, str]]:
    text = (REPO / "services" / service / "Dockerfile").read_text().replace("\\\n", " ")
    lines = (line.strip() for line in text.splitlines())
    steps = (line.partition(" ") for line in lines if line and not line.startswith("#"))
    return [(op, value.strip()) for op, _, value in steps]


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
    assert steps[-1] == ("ENTRYPOINT", f'["python", "-m", "{service}"]')
    assert any(op == "HEALTHCHECK" and f"{service.upper()}_GRPC_PORT" in v for op, v in steps)


@pytest.mark.parametrize("service", sorted(SETTINGS))
def test_each_image_copies_only_its_own_service_from_the_build_context(service: str) -> None:
    copies = [
        v.split()[:-1] for op, v in instructions(service) if op == "COPY" and "--from" not in v
    ]
    sources = [source for sources in copies for source in sources]
    assert all((REPO / source).exists() for source in sources)
    assert all(any(source.startswith(kept) for kept in INCLUDED) for source in sources)
    assert {s for s in sources if s.startswith("services/")} == {f"services/{service}"}
    assert "uv sync --frozen --no-dev" in (REPO / "services" / service / "Dockerfile").read_text()
