"""Renders deploy/k8s with kustomize and finds things in the rendered resources."""

import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from checkout.config import Settings as CheckoutSettings
from common.process.settings import CommonSettings
from stats.config import Settings as StatsSettings
from waitroom.config import Settings as WaitroomSettings

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
KUSTOMIZE = REPO / ".cache" / "bin" / "kustomize"
SETTINGS: dict[str, type[CommonSettings]] = {
    "waitroom": WaitroomSettings,
    "checkout": CheckoutSettings,
    "stats": StatsSettings,
}
Resource = dict[str, Any]


def kustomizations() -> dict[str, Path]:
    """Every directory an operator applies: the overlays and the production Kafka topics."""
    found = {path.name: path for path in sorted((K8S / "overlays").iterdir()) if path.is_dir()}
    return {**found, "kafka-topics": K8S / "kafka-topics"}


def secret_files(kustomization_dir: Path) -> list[Path]:
    """The files a kustomization's secretGenerator reads."""
    spec = yaml.safe_load((kustomization_dir / "kustomization.yaml").read_text())
    entries = [e for g in spec.get("secretGenerator", []) for e in g.get("files", [])]
    return [kustomization_dir / entry.split("=", 1)[-1] for entry in entries]


def render_copy(tmp: Path) -> dict[str, list[Resource]]:
    """Renders a copy of deploy/k8s whose Secret files hold placeholders (the real ones are
    made at deploy time and never committed)."""
    assert KUSTOMIZE.is_file(), f"{KUSTOMIZE} is missing: `make kustomize` builds it"
    copy = tmp / "k8s"
    shutil.copytree(K8S, copy, ignore=shutil.ignore_patterns("secrets"))
    rendered = {}
    for name, path in kustomizations().items():
        target = copy / path.relative_to(K8S)
        for file in secret_files(target):
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_text(f"placeholder for {file.name}\n")
        out = subprocess.run(
            [str(KUSTOMIZE), "build", str(target)], capture_output=True, text=True, check=False
        )
        assert out.returncode == 0, f"kustomize build {name} failed:\n{out.stderr}"
        rendered[name] = [doc for doc in yaml.safe_load_all(out.stdout) if doc]
    return rendered


def of_kind(resources: list[Resource], kind: str) -> dict[str, Resource]:
    return {r["metadata"]["name"]: r for r in resources if r["kind"] == kind}


def named(resources: list[Resource], kind: str, name: str) -> Resource:
    matches = [r for r in resources if r["kind"] == kind and r["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
    return matches[0]


def config_map(resources: list[Resource], name: str) -> dict[str, str]:
    """A ConfigMap's data by its name before kustomize's hash suffix."""
    found = [
        r["data"]
        for r in resources
        if r["kind"] == "ConfigMap" and r["metadata"]["name"].rsplit("-", 1)[0] == name
    ]
    assert len(found) == 1, f"expected one ConfigMap {name}, found {len(found)}"
    return dict(found[0])


def container(deployment: Resource) -> Resource:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, "one container per service pod"
    return dict(containers[0])


def container_env(resources: list[Resource], deployment: Resource) -> dict[str, str]:
    """The environment a service's container gets: its ConfigMaps, then its own env. Values from
    a Secret or a field read as placeholders."""
    env: dict[str, str] = {}
    spec, config_maps = container(deployment), of_kind(resources, "ConfigMap")
    for source in spec.get("envFrom", []):
        env.update(config_maps[source["configMapRef"]["name"]]["data"])
    for variable in spec.get("env", []):
        env[variable["name"]] = variable.get("value", f"from-{variable['name'].lower()}")
    return env


def port(spec: Resource, name: str) -> int:
    numbers = [p["containerPort"] for p in spec["ports"] if p["name"] == name]
    assert len(numbers) == 1, f"expected one container port named {name}"
    return int(numbers[0])


def selects(selector: Resource, labels: dict[str, str]) -> bool:
    """Whether a label selector (matchLabels and In expressions) selects these labels."""
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for term in selector.get("matchExpressions", []):
        assert term["operator"] == "In", "only In expressions are understood here"
        if labels.get(term["key"]) not in term["values"]:
            return False
    return True


def pod_labels(workload: Resource) -> dict[str, str]:
    return dict(workload["spec"]["template"]["metadata"]["labels"])
