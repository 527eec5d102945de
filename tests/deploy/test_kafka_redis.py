"""Kafka (Strimzi, KRaft) with one topic per DESIGN.md topic, and Redis with an append-only file."""

from urllib.parse import urlsplit

from common.kafka import topics
from tests.deploy.manifests import Resource, config_map, container, named, of_kind

DESIGN_TOPICS = {*topics.ALL, *(topics.dead_letter(topic) for topic in topics.ALL)}


def kafka_topics(resources: list[Resource]) -> dict[str, Resource]:
    return {t["spec"]["topicName"]: t for t in of_kind(resources, "KafkaTopic").values()}


def test_one_kafka_topic_per_design_topic_and_dead_letter_topic(
    rendered: dict[str, list[Resource]],
) -> None:
    for name in ("dev", "kafka-topics"):
        found = kafka_topics(rendered[name])
        assert set(found) == DESIGN_TOPICS, name
        assert all(topic["spec"]["partitions"] >= 1 for topic in found.values())


def test_production_topics_have_three_replicas_and_two_in_sync(
    rendered: dict[str, list[Resource]],
) -> None:
    for topic in kafka_topics(rendered["kafka-topics"]).values():
        assert topic["spec"]["replicas"] == 3
        assert topic["spec"]["config"]["min.insync.replicas"] == 2


def test_event_updated_is_compacted(rendered: dict[str, list[Resource]]) -> None:
    topic = kafka_topics(rendered["kafka-topics"])[topics.EVENT_UPDATED]
    assert topic["spec"]["config"]["cleanup.policy"] == "compact"


def test_dev_kafka_runs_in_kraft_mode_on_a_node_pool_the_services_find(
    dev: list[Resource],
) -> None:
    ((name, kafka),) = of_kind(dev, "Kafka").items()
    annotations = kafka["metadata"]["annotations"]
    assert annotations["strimzi.io/kraft"] == annotations["strimzi.io/node-pools"] == "enabled"
    pools = of_kind(dev, "KafkaNodePool").values()
    assert [p["metadata"]["labels"]["strimzi.io/cluster"] for p in pools] == [name]
    assert {"controller", "broker"} == {role for pool in pools for role in pool["spec"]["roles"]}
    clusters = {t["metadata"]["labels"]["strimzi.io/cluster"] for t in kafka_topics(dev).values()}
    assert clusters == {name}
    listener_ports = {listener["port"] for listener in kafka["spec"]["kafka"]["listeners"]}
    bootstrap = config_map(dev, "common-config")["KAFKA_BOOTSTRAP_SERVERS"]
    assert bootstrap in {f"{name}-kafka-bootstrap:{port}" for port in listener_ports}


def test_dev_redis_keeps_an_append_only_file_on_a_persistent_volume(dev: list[Resource]) -> None:
    redis = named(dev, "StatefulSet", "redis")
    args = container(redis)["args"]
    assert args[args.index("--appendonly") + 1] == "yes"
    claims = {claim["metadata"]["name"] for claim in redis["spec"]["volumeClaimTemplates"]}
    data_dir = args[args.index("--dir") + 1]
    mounts = {m["mountPath"]: m["name"] for m in container(redis)["volumeMounts"]}
    assert mounts[data_dir] in claims
    url = urlsplit(config_map(dev, "common-config")["REDIS_URL"])
    assert url.hostname == redis["spec"]["serviceName"]
    assert named(dev, "Service", url.hostname)["spec"]["ports"][0]["port"] == url.port


def test_the_redis_cluster_overlay_is_production_with_a_cluster_url(
    rendered: dict[str, list[Resource]],
) -> None:
    production, clustered = rendered["production"], rendered["production-redis-cluster"]
    url = config_map(clustered, "common-config")["REDIS_URL"]
    assert url.startswith("redis+cluster://")
    assert len(url.removeprefix("redis+cluster://").split(",")) >= 2  # more than one to start from
    assert config_map(production, "common-config")["REDIS_URL"].startswith("redis://")

    # the same resources (a generated ConfigMap's name carries a hash of its contents)
    def kinds(resources: list[Resource]) -> list[tuple[str, str]]:
        return sorted((r["kind"], r["metadata"]["name"].rsplit("-", 1)[0]) for r in resources)

    assert kinds(production) == kinds(clustered)
