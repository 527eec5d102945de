"""Writes the topic tool's list and the KafkaTopic manifests from libs/common/kafka/topics.py."""

import sys
from pathlib import Path

from common.kafka.topics import (
    DEAD_LETTER_PARTITIONS,
    DEAD_LETTER_RETENTION_MS,
    RETENTION_MS,
    TOPICS,
    Topic,
    dead_letter,
)

REPO = Path(__file__).resolve().parents[1]
MANIFESTS = REPO / "deploy" / "k8s" / "kafka-topics" / "topics.yaml"
TOOL_LIST = REPO / "infra" / "kafka" / "topics.txt"
# Production: every write on two of three replicas.
REPLICAS, IN_SYNC = 3, 2
KAFKA_TOPIC = """\
# {comment}
apiVersion: kafka.strimzi.io/v1beta2
kind: KafkaTopic
metadata:
  name: {resource}
  labels:
    strimzi.io/cluster: kafka
spec:
  topicName: {name}
  partitions: {partitions}
  replicas: {replicas}
  config:
    min.insync.replicas: {in_sync}
    {policy}
"""
GENERATED = """\
# Generated from libs/common/kafka/topics.py by `make topics`: edit that list, not this file.
"""
TOOL_HEADER = f"""{GENERATED}\
# Read by CreateTopics.java (infra/kafka.sh topics): topic, partitions (* for
# KAFKA_TOPIC_PARTITIONS), then its config. One broker: one replica, one in sync;
# infra/kafka-cluster.sh creates them with {REPLICAS} replicas and min.insync.replicas={IN_SYNC}.
"""


def _kafka_topic(name: str, comment: str, partitions: int, policy: str) -> str:
    resource = name.lower().replace("_", "-").replace(".", "-")
    return KAFKA_TOPIC.format(
        comment=comment,
        resource=resource,
        name=name,
        partitions=partitions,
        replicas=REPLICAS,
        in_sync=IN_SYNC,
        policy=policy,
    )


def _manifests_of(topic: Topic) -> list[str]:
    compacted = f", compacted: {topic.compacted}" if topic.compacted else ""
    policy = "cleanup.policy: compact" if topic.compacted else f"retention.ms: {RETENTION_MS}"
    letters = dead_letter(topic.name)
    kept = DEAD_LETTER_RETENTION_MS // (24 * 3600 * 1000)
    return [
        _kafka_topic(
            topic.name, f"{topic.name}: keyed by {topic.key}{compacted}", topic.partitions, policy
        ),
        _kafka_topic(
            letters,
            f"{letters}: what consumers of {topic.name} could not apply, with the error; "
            f"kept {kept} days",
            DEAD_LETTER_PARTITIONS,
            f"retention.ms: {DEAD_LETTER_RETENTION_MS}",
        ),
    ]


def manifests() -> str:
    """deploy/k8s/kafka-topics/topics.yaml: one KafkaTopic per topic and per dead-letter topic."""
    return GENERATED + "---\n".join(part for topic in TOPICS for part in _manifests_of(topic))


def tool_list() -> str:
    """infra/kafka/topics.txt: the topics CreateTopics.java makes on a developer's broker."""
    lines = []
    for topic in TOPICS:
        policy = "compact" if topic.compacted else f"delete retention.ms={RETENTION_MS}"
        lines.append(f"{topic.name} * cleanup.policy={policy} min.insync.replicas=1")
        lines.append(
            f"{dead_letter(topic.name)} 1 cleanup.policy=delete"
            f" retention.ms={DEAD_LETTER_RETENTION_MS} min.insync.replicas=1"
        )
    return TOOL_HEADER + "".join(f"{line}\n" for line in lines)


def main(args: list[str]) -> int:
    """Writes both files; with --check, only says which ones the list disagrees with."""
    stale = [
        path
        for path, text in ((MANIFESTS, manifests()), (TOOL_LIST, tool_list()))
        if not path.exists() or path.read_text() != text
    ]
    if "--check" in args:
        for path in stale:
            print(f"{path.relative_to(REPO)} disagrees with the topic list: make topics")
        return 1 if stale else 0
    MANIFESTS.write_text(manifests())
    TOOL_LIST.write_text(tool_list())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
