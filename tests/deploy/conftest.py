"""Every kustomization of deploy/k8s, rendered once per test session."""

import pytest

from tests.deploy.manifests import Resource, render_copy


@pytest.fixture(scope="session")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Resource]]:
    return render_copy(tmp_path_factory.mktemp("deploy"))


@pytest.fixture(scope="session")
def dev(rendered: dict[str, list[Resource]]) -> list[Resource]:
    return rendered["dev"]


@pytest.fixture(scope="session")
def production(rendered: dict[str, list[Resource]]) -> list[Resource]:
    return rendered["production"]
