"""Every overlay renders; built-in resources match the Kubernetes schema, custom ones their CRDs."""

from typing import Any

import kubernetes_validate
import pytest

from tests.deploy.manifests import Resource, kustomizations

# Custom resources: the fields their CRDs require (and the ones Waitroom relies on).
REQUIRED_FIELDS: dict[tuple[str, str], tuple[tuple[str, ...], ...]] = {
    ("kafka.strimzi.io/v1beta2", "Kafka"): (("spec", "kafka", "listeners"),),
    ("kafka.strimzi.io/v1beta2", "KafkaNodePool"): (
        ("metadata", "labels", "strimzi.io/cluster"),
        ("spec", "replicas"),
        ("spec", "roles"),
        ("spec", "storage", "type"),
    ),
    ("kafka.strimzi.io/v1beta2", "KafkaTopic"): (
        ("metadata", "labels", "strimzi.io/cluster"),
        ("spec", "topicName"),
        ("spec", "partitions"),
        ("spec", "replicas"),
    ),
    ("monitoring.coreos.com/v1", "PodMonitor"): (
        ("spec", "selector"),
        ("spec", "podMetricsEndpoints"),
    ),
}
LISTENER_FIELDS = ("name", "port", "type", "tls")
UNKNOWN_OR_INVALID = (kubernetes_validate.ValidationError, kubernetes_validate.SchemaNotFoundError)


def lookup(resource: Resource, path: tuple[str, ...]) -> Any:
    value: Any = resource
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def is_custom(resource: Resource) -> bool:
    return (resource["apiVersion"], resource["kind"]) in REQUIRED_FIELDS


@pytest.mark.parametrize("name", sorted(kustomizations()))
def test_every_kustomization_renders(rendered: dict[str, list[Resource]], name: str) -> None:
    assert rendered[name], f"{name} rendered no resources"


def test_every_built_in_resource_validates_against_the_kubernetes_schema(
    rendered: dict[str, list[Resource]],
) -> None:
    version = kubernetes_validate.latest_version()
    failures = []
    for name, resources in rendered.items():
        for resource in (r for r in resources if not is_custom(r)):
            try:
                kubernetes_validate.validate(resource, version, strict=True)
            except UNKNOWN_OR_INVALID as error:
                failures.append(
                    f"{name}: {resource['kind']} {resource['metadata']['name']}: {error}"
                )
    assert not failures, "\n".join(failures)


def test_every_custom_resource_has_the_fields_its_definition_requires(
    rendered: dict[str, list[Resource]],
) -> None:
    missing = [
        f"{resource['kind']} {resource['metadata']['name']}: {'.'.join(path)}"
        for resources in rendered.values()
        for resource in resources
        if is_custom(resource)
        for path in REQUIRED_FIELDS[(resource["apiVersion"], resource["kind"])]
        if lookup(resource, path) in (None, "", [], {})
    ]
    assert not missing, "\n".join(missing)


def test_every_kafka_listener_has_name_port_type_and_tls(dev: list[Resource]) -> None:
    listeners = [
        listener
        for resource in dev
        if resource["kind"] == "Kafka"
        for listener in resource["spec"]["kafka"]["listeners"]
    ]
    assert listeners
    for listener in listeners:
        assert all(field in listener for field in LISTENER_FIELDS), listener
