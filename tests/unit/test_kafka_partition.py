"""The publisher's key hash is Kafka's: a record goes to the partition any client would pick."""

import random

from aiokafka.partitioner import DefaultPartitioner, murmur2

from common.kafka import publisher


def test_the_key_hash_is_kafkas_murmur2_for_keys_of_every_length():
    rng = random.Random(11)
    keys = [bytes(rng.randrange(256) for _ in range(n % 70)) for n in range(2000)]
    assert [publisher.murmur2(key) for key in keys] == [murmur2(key) for key in keys]


class TwelvePartitions:
    async def partitions_for(self, topic: str) -> set[int]:
        return set(range(12))


async def test_a_session_ids_partition_is_the_default_partitioners():
    sender, producer, partitions = (
        publisher.Publisher("unused:9092", 1, "test"),
        TwelvePartitions(),
        list(range(12)),
    )
    for n in range(500):
        key = f"ev-{n}~{n:022d}.{n * 7:022d}".encode()
        expected = DefaultPartitioner()(key, partitions, partitions)
        assert await sender._partition(producer, "QUEUE_JOINED", key) == expected  # type: ignore[arg-type]
