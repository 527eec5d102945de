"""What counts as a dependency outage: Redis or Kafka away for a while, not a bad request.

A call or record that meets one is not at fault: a consumer waits and tries it again (never
dead-letters it), a gRPC call ends UNAVAILABLE with a retry hint.
"""

from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError
from redis.exceptions import (
    ClusterDownError,
    ClusterError,
    ReadOnlyError,
    SlotNotCoveredError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from common.kafka.publisher import PublishError

# Redis refused or dropped the connection, timed out, is still loading its data (a
# ConnectionError), or is failing over: a replica not yet promoted answers READONLY, a
# cluster without a primary for a slot CLUSTERDOWN or TRYAGAIN. Kafka did not answer.
OUTAGES: tuple[type[Exception], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    ReadOnlyError,
    ClusterDownError,
    ClusterError,
    TryAgainError,
    SlotNotCoveredError,
    KafkaConnectionError,
    KafkaTimeoutError,
    PublishError,
)
