"""What is safe to commit: the offsets handed out per partition, in order."""

from collections import deque
from collections.abc import Sequence

from aiokafka import TopicPartition


class OffsetTracker:
    def __init__(self) -> None:
        self._pending: dict[TopicPartition, deque[list[int]]] = {}

    def add(self, partition: TopicPartition, offset: int) -> list[int]:
        entry = [offset, 0]  # [offset, finished]
        self._pending.setdefault(partition, deque()).append(entry)
        return entry

    def committable(self) -> dict[TopicPartition, int]:
        """Per partition, the offset after the last record of its finished prefix."""
        offsets = {}
        for partition, entries in self._pending.items():
            last = None
            while entries and entries[0][1]:
                last = entries.popleft()[0]
            if last is not None:
                offsets[partition] = last + 1
        return offsets

    def forget(self, partitions: Sequence[TopicPartition]) -> None:
        for partition in partitions:
            self._pending.pop(partition, None)
