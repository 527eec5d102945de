"""The transactional outbox: Redis streams relayed to Kafka, cleared only after Kafka acknowledged.

A service writes an entry to an event's outbox stream in the same Lua script as the state
change. The relay reads the stream through a consumer group, so replicas share the work and
a dead replica's entries are claimed by another after `claim_idle_ms`.

Claiming scans the group's pending entries from the start (XAUTOCLAIM examines up to ten
times its count): in a large admission, with every replica's batch in flight, a claim keeps
Redis from serving anyone else for a while. An entry can be claimed only once it has waited
`claim_idle_ms`, so a relay claims on a stream at most every quarter of that (and on its
first read): a dead replica's entries move within 1.25 times `claim_idle_ms`.
"""

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from redis.exceptions import ResponseError

from common.kafka.publisher import Record
from common.redis.client import RedisClient

GROUP = "relay"


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    entry_id: str
    kind: str
    fields: dict[str, str] = field(default_factory=dict)


class Sender(Protocol):
    async def publish(self, records: Sequence[Record]) -> None: ...


def _order(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq)


class OutboxStream:
    """Reads and acknowledges one service's outbox streams."""

    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis

    async def read(
        self, stream: str, consumer: str, count: int, claim_idle_ms: int | None
    ) -> list[OutboxEntry]:
        """Entries stuck with a dead replica (unless `claim_idle_ms` is None: none are
        claimed this time), entries this consumer holds, then new ones."""
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                if claim_idle_ms is not None:
                    pipe.xautoclaim(stream, GROUP, consumer, claim_idle_ms, "0-0", count=count)
                pipe.xreadgroup(GROUP, consumer, {stream: "0"}, count=count)
                pipe.xreadgroup(GROUP, consumer, {stream: ">"}, count=count)
                replies = await pipe.execute()
        except ResponseError as error:
            if "NOGROUP" not in str(error):
                raise
            await self._redis.xgroup_create(stream, GROUP, id="0", mkstream=True)
            return []
        claimed = replies.pop(0)[1] if claim_idle_ms is not None else []
        pending, new = replies
        entries: dict[str, dict[str, str]] = {}
        sources = 0  # replies with entries: each comes in stream order, so one needs no sort
        for part in (claimed, *(e for reply in (pending, new) for _, e in reply)):
            sources += bool(part)
            for entry_id, fields in part:
                if fields:  # an entry deleted meanwhile comes back empty
                    entries[entry_id] = fields
        ordered = list(entries.items())
        if sources > 1:
            ordered.sort(key=lambda item: _order(item[0]))
        return [
            OutboxEntry(entry_id, fields.get("kind", ""), fields) for entry_id, fields in ordered
        ]

    async def acknowledge(self, stream: str, entry_ids: Sequence[str]) -> None:
        if entry_ids:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.xack(stream, GROUP, *entry_ids)
                pipe.xdel(stream, *entry_ids)
                await pipe.execute()

    async def length(self, stream: str) -> int:
        return int(await self._redis.xlen(stream))

    async def lengths(self, streams: Sequence[str]) -> list[int]:
        """Every stream's length in one round trip."""
        if not streams:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            for stream in streams:
                pipe.xlen(stream)
            return [int(n) for n in await pipe.execute()]


# Turns a batch of one event's entries into Kafka records (and may store side results).
Converter = Callable[[str, list[OutboxEntry]], Awaitable[list[Record]]]


class OutboxRelay:
    def __init__(
        self,
        outbox: OutboxStream,
        sender: Sender,
        stream_of: Callable[[str], str],
        convert: Converter,
        consumer: str,
        batch: int,
        claim_idle_ms: int,
        on_published: Callable[[str, list[Record]], None] = lambda event_id, records: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """clock: seconds, monotonic; when a stream's next claim is due."""
        self._outbox = outbox
        self._sender = sender
        self._stream_of = stream_of
        self._convert = convert
        self._consumer = consumer
        self._batch = batch
        self._claim_idle_ms = claim_idle_ms
        self._on_published = on_published
        self._clock = clock
        self._claimed_at: dict[str, float] = {}  # stream -> when this relay last claimed there

    async def pending(self, event_ids: Sequence[str]) -> list[str]:
        """The events whose outbox holds entries (sent or not): the only ones worth a relay.

        An entry stays in its stream until Kafka acknowledged it, so one with a dead replica
        counts too. A service with many quiet events pays one round trip, not one per event.
        """
        lengths = await self._outbox.lengths([self._stream_of(e) for e in event_ids])
        return [e for e, n in zip(event_ids, lengths, strict=True) if n]

    def _claim_due(self, stream: str) -> int | None:
        """claim_idle_ms if this read should claim (see the module's docstring), else None."""
        now = self._clock()
        if now - self._claimed_at.get(stream, -float("inf")) < self._claim_idle_ms / 4000:
            return None
        self._claimed_at[stream] = now
        return self._claim_idle_ms

    async def relay(self, event_id: str, max_batches: int = 50) -> int:
        """Relays until the event's outbox is empty (or max_batches); raises if Kafka fails."""
        stream = self._stream_of(event_id)
        relayed = 0
        for _ in range(max_batches):
            entries = await self._outbox.read(
                stream, self._consumer, self._batch, self._claim_due(stream)
            )
            if not entries:
                break
            records = await self._convert(event_id, entries)
            await self._sender.publish(records)
            await self._outbox.acknowledge(stream, [entry.entry_id for entry in entries])
            self._on_published(event_id, records)
            relayed += len(entries)
            if len(entries) < self._batch:
                break
        return relayed
