"""The log configuration: a fresh broker's coordinator election is no ERROR."""

import logging

from aiokafka.errors import GroupCoordinatorNotAvailableError, KafkaConnectionError

from common.process.logging import CoordinatorElection

COORDINATOR = "aiokafka.consumer.group_coordinator"


def record(name: str, level: int, error: Exception) -> logging.LogRecord:
    return logging.LogRecord(
        name, level, __file__, 1, "Group Coordinator Request failed: %s", (error,), None
    )


def test_a_missing_group_coordinator_is_logged_as_a_warning():
    lookup = record(COORDINATOR, logging.ERROR, GroupCoordinatorNotAvailableError())
    assert CoordinatorElection().filter(lookup)
    assert (lookup.levelno, lookup.levelname) == (logging.WARNING, "WARNING")


def test_other_errors_keep_their_level():
    lost = record(COORDINATOR, logging.ERROR, KafkaConnectionError())
    ours = record("waitroom.server", logging.ERROR, GroupCoordinatorNotAvailableError())
    for kept in (lost, ours):
        assert CoordinatorElection().filter(kept)
        assert kept.levelno == logging.ERROR
