"""What counts as a dependency outage: Redis or Kafka away for a while, not a bad request.

A call or record that meets one is not at fault: a consumer waits and tries it again (never
dead-letters it), a gRPC call ends UNAVAILABLE with a retry hint.
"""

from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError

from common.kafka.publisher import PublishError
from common.redis.client import REDIS_AWAY

# Redis away (common.redis.client says which errors those are), or Kafka did not answer.
OUTAGES: tuple[type[Exception], ...] = (
    *REDIS_AWAY,
    KafkaConnectionError,
    KafkaTimeoutError,
    PublishError,
)
