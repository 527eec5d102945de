"""A record that meets a dependency outage is never poison, whatever the outage looks like."""

import pytest
from aiokafka import ConsumerRecord
from redis.exceptions import (
    BusyLoadingError,
    ClusterDownError,
    ReadOnlyError,
    ResponseError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError

from common.kafka.handlers import each_record
from common.kafka.publisher import PublishError


def record(offset: int) -> ConsumerRecord:
    return ConsumerRecord("QUEUE_JOINED", 0, offset, 0, 0, b"k", b"{}", None, 1, 2, ())


@pytest.mark.parametrize(
    "outage",
    [
        RedisConnectionError("Connection refused"),
        BusyLoadingError("LOADING Redis is loading the dataset in memory"),
        ReadOnlyError("READONLY You can't write against a read only replica."),
        ClusterDownError("CLUSTERDOWN The cluster is down"),
        TryAgainError("TRYAGAIN Multiple keys request during rehashing of slot"),
        PublishError("Kafka did not acknowledge in time"),
    ],
)
async def test_a_batch_that_meets_an_outage_raises_so_it_is_tried_again_not_dead_lettered(
    outage,
):
    async def handle(r):
        if r.offset == 1:
            raise outage

    apply = each_record(handle, attempts=2, delay=0.001)
    with pytest.raises(type(outage)):
        await apply([record(0), record(1), record(2)])


async def test_a_record_that_keeps_failing_for_its_own_sake_is_poison():
    async def handle(r):
        if r.offset == 1:
            raise ResponseError("WRONGTYPE Operation against a key holding the wrong kind")

    poison = await each_record(handle, attempts=2, delay=0.001)([record(0), record(1)])
    assert [(r.offset, type(e).__name__) for r, e in poison] == [(1, "ResponseError")]
