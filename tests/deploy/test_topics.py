"""One topic list: the topic tool's input and the KafkaTopic manifests are generated from it."""

import runpy
from typing import Any

import yaml

from common.kafka import topics
from tests.deploy.manifests import REPO

GENERATOR = REPO / "deploy" / "gen_topics.py"


def generator() -> dict[str, Any]:
    return runpy.run_path(str(GENERATOR))


def test_the_checked_in_manifests_and_tool_list_are_what_the_topic_list_generates() -> None:
    gen = generator()
    assert gen["MANIFESTS"].read_text() == gen["manifests"](), "make topics"
    assert gen["TOOL_LIST"].read_text() == gen["tool_list"](), "make topics"
    assert gen["main"](["--check"]) == 0


def test_the_topic_tool_reads_its_topics_from_the_list_and_names_none_itself() -> None:
    source = (REPO / "infra" / "kafka" / "CreateTopics.java").read_text()
    assert not [name for name in topics.ALL if name in source]
    assert "infra/kafka/topics.txt" in (REPO / "infra" / "kafka-lib.sh").read_text()


def test_the_tool_list_makes_every_topic_and_its_dead_letter_topic_once() -> None:
    lines = generator()["tool_list"]().splitlines()
    names = [line.split()[0] for line in lines if line and not line.startswith("#")]
    assert names == [name for topic in topics.ALL for name in (topic, topics.dead_letter(topic))]


def test_each_manifest_has_the_partitions_and_compaction_of_its_topic() -> None:
    found = {
        doc["spec"]["topicName"]: doc["spec"]
        for doc in yaml.safe_load_all(generator()["manifests"]())
    }
    for topic in topics.TOPICS:
        spec = found[topic.name]
        assert spec["partitions"] == topic.partitions
        assert (spec["config"].get("cleanup.policy") == "compact") == bool(topic.compacted)
        letters = found[topics.dead_letter(topic.name)]
        assert letters["partitions"] == topics.DEAD_LETTER_PARTITIONS
        assert letters["config"]["retention.ms"] == topics.DEAD_LETTER_RETENTION_MS
