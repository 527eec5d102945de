"""Former home of the pooled consumer, now the one loop in common.kafka.consumer."""

from aiokafka import ConsumerRecord

from common.kafka.consumer import EventConsumer as PooledConsumer
from common.kafka.handlers import BatchHandler
from common.kafka.offsets import OffsetTracker
from common.kafka.records import PoisonMessageError

Poison = tuple[ConsumerRecord[bytes, bytes], PoisonMessageError]
__all__ = ["BatchHandler", "OffsetTracker", "Poison", "PooledConsumer"]
