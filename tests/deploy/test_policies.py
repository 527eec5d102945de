"""Pods are locked down, reachable only as intended, scraped, scaled and spread."""

import pytest

from tests.deploy.manifests import (
    SETTINGS,
    Resource,
    container,
    named,
    of_kind,
    pod_labels,
    port,
    selects,
)

OVERLAYS = ("dev", "production")
WORKLOADS = ("Deployment", "StatefulSet")
OPEN_TO_ALL = {("waitroom", "grpc"), ("checkout", "grpc")}


def workloads(resources: list[Resource]) -> list[Resource]:
    return [r for r in resources if r["kind"] in WORKLOADS]


def reachable_from_outside(peers: list[Resource] | None) -> str:
    """'anyone', 'monitoring' or '' (this namespace only) for the peers of an ingress rule."""
    if not peers or any("ipBlock" in p for p in peers):
        return "anyone"
    outside = [p["namespaceSelector"] for p in peers if "namespaceSelector" in p]
    if not outside:
        return ""
    names = {s.get("matchLabels", {}).get("kubernetes.io/metadata.name") for s in outside}
    return "monitoring" if names == {"monitoring"} else "anyone"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_runs_as_non_root_read_only_without_capabilities(
    rendered: dict[str, list[Resource]], overlay: str
) -> None:
    for workload in workloads(rendered[overlay]):
        pod = workload["spec"]["template"]["spec"]
        security = container(workload)["securityContext"]
        assert pod["securityContext"]["runAsNonRoot"] is True, workload["metadata"]["name"]
        assert security["readOnlyRootFilesystem"] is True, workload["metadata"]["name"]
        assert security["allowPrivilegeEscalation"] is False, workload["metadata"]["name"]
        assert security["capabilities"]["drop"] == ["ALL"], workload["metadata"]["name"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_has_resource_requests_and_limits(
    rendered: dict[str, list[Resource]], overlay: str
) -> None:
    for workload in workloads(rendered[overlay]):
        resources = container(workload)["resources"]
        assert {"cpu", "memory"} <= set(resources["requests"]), workload["metadata"]["name"]
        assert "memory" in resources["limits"], workload["metadata"]["name"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_waitroom_and_checkout_grpc_are_open_outside_the_namespace(
    rendered: dict[str, list[Resource]], overlay: str
) -> None:
    resources = rendered[overlay]
    open_ports = set()
    for service in SETTINGS:
        labels = pod_labels(named(resources, "Deployment", service))
        policies = [
            p
            for p in of_kind(resources, "NetworkPolicy").values()
            if selects(p["spec"]["podSelector"], labels)
        ]
        assert policies, f"no NetworkPolicy isolates {service}"
        for rule in (rule for p in policies for rule in p["spec"].get("ingress", [])):
            reach = reachable_from_outside(rule.get("from"))
            for rule_port in rule.get("ports") or [{"port": "every port"}]:
                if reach:
                    open_ports.add((service, rule_port["port"], reach))
    assert {(s, p) for s, p, reach in open_ports if reach == "anyone"} == OPEN_TO_ALL
    assert {p for _, p, reach in open_ports if reach == "monitoring"} == {"metrics"}


def test_dev_redis_and_kafka_admit_only_the_services(dev: list[Resource]) -> None:
    redis = named(dev, "NetworkPolicy", "redis")
    assert selects(redis["spec"]["podSelector"], pod_labels(named(dev, "StatefulSet", "redis")))
    kafka = next(iter(of_kind(dev, "Kafka").values()))
    peer_lists = [rule["from"] for rule in redis["spec"]["ingress"]]
    peer_lists += [
        listener["networkPolicyPeers"] for listener in kafka["spec"]["kafka"]["listeners"]
    ]
    for peers in peer_lists:
        assert all(set(peer) == {"podSelector"} for peer in peers), "pods of this namespace only"
        admitted = {
            w["metadata"]["name"]
            for w in workloads(dev)
            if any(selects(peer["podSelector"], pod_labels(w)) for peer in peers)
        }
        assert admitted == set(SETTINGS)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_prometheus_scrapes_every_service_metrics_port(
    rendered: dict[str, list[Resource]], overlay: str
) -> None:
    monitors = of_kind(rendered[overlay], "PodMonitor").values()
    for service in SETTINGS:
        deployment = named(rendered[overlay], "Deployment", service)
        scraping = [m for m in monitors if selects(m["spec"]["selector"], pod_labels(deployment))]
        assert scraping, f"no PodMonitor selects {service}"
        endpoints = [e for m in scraping for e in m["spec"]["podMetricsEndpoints"]]
        assert all(port(container(deployment), e["port"]) for e in endpoints)
        assert {e["path"] for e in endpoints} == {"/metrics"}


def test_production_autoscales_waitroom_and_checkout(production: list[Resource]) -> None:
    autoscalers = of_kind(production, "HorizontalPodAutoscaler")
    targets = {a["spec"]["scaleTargetRef"]["name"] for a in autoscalers.values()}
    assert targets == {"waitroom", "checkout"}
    assert all(a["spec"]["minReplicas"] >= 3 for a in autoscalers.values())
    assert named(production, "Deployment", "stats")["spec"]["replicas"] >= 2
    for target in targets:
        assert "replicas" not in named(production, "Deployment", target)["spec"], "the HPA owns it"


def test_dev_runs_one_replica_of_each_service(dev: list[Resource]) -> None:
    assert not of_kind(dev, "HorizontalPodAutoscaler")
    assert {d["spec"].get("replicas", 1) for d in of_kind(dev, "Deployment").values()} == {1}


def test_production_spreads_each_service_over_nodes_and_zones(production: list[Resource]) -> None:
    for service in SETTINGS:
        deployment = named(production, "Deployment", service)
        pod, labels = deployment["spec"]["template"]["spec"], pod_labels(deployment)
        terms = pod["affinity"]["podAntiAffinity"][
            "preferredDuringSchedulingIgnoredDuringExecution"
        ]
        assert any(selects(t["podAffinityTerm"]["labelSelector"], labels) for t in terms)
        spread = pod["topologySpreadConstraints"]
        assert any(c["topologyKey"] == "topology.kubernetes.io/zone" for c in spread)
        assert all(selects(c["labelSelector"], labels) for c in spread)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_has_a_disruption_budget_and_its_own_account(
    rendered: dict[str, list[Resource]], overlay: str
) -> None:
    resources = rendered[overlay]
    for service in SETTINGS:
        labels = pod_labels(named(resources, "Deployment", service))
        budget = named(resources, "PodDisruptionBudget", service)
        assert selects(budget["spec"]["selector"], labels)
        account = named(resources, "ServiceAccount", service)
        assert account["automountServiceAccountToken"] is False
