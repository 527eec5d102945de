"""How people hear of their place: most hold a WatchQueueStatus stream, some poll GetQueueStatus
as the server advises (next_poll_after_seconds); either way, what reached them and when.

Used by `make run` (demo/flash_crowd.py) and by the bench's flash crowd with watchers
(bench/flash_watch.py). Many people share one gRPC channel, as the streams of many browsers
share a proxy's connection; each channel has its own connection (a local subchannel pool), so
a crowd spreads over every serving process behind the port.
"""

import asyncio
import random
import statistics
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType

import grpc

from waitroomapi.waitroom.v1 import waitroom_pb2 as pb
from waitroomapi.waitroom.v1 import waitroom_pb2_grpc as pb_grpc

WATCH, POLL = "watch", "poll"
PER_CHANNEL = 100  # people (streams) per gRPC channel
RECONNECTS = 5  # a stream told UNAVAILABLE (its server stopping) reconnects this often at most
RETRY_AFTER_KEY = "retry-after-ms"


@dataclass(slots=True)
class Heard:
    """What reached one person: how many updates, the final status, its token, and when."""

    mode: str  # WATCH or POLL
    updates: int = 0
    status: int = pb.SESSION_STATUS_UNSPECIFIED  # the final one, once it came
    token: str = ""
    final_at: float = 0.0  # wall-clock time the final status reached them
    reconnects: int = 0
    error: str = ""  # the gRPC code that ended it, if one did

    def final(self, status: pb.GetQueueStatusResponse) -> None:
        self.status, self.token, self.final_at = status.status, status.checkout_token, time.time()


def is_final(status: pb.GetQueueStatusResponse) -> bool:
    closed = status.event_state == pb.EVENT_STATE_CLOSED
    return status.status != pb.SESSION_STATUS_QUEUED or closed


def _retry_after(error: grpc.aio.AioRpcError) -> float:
    for key, value in error.trailing_metadata() or ():
        if key == RETRY_AFTER_KEY:
            return int(value) / 1000
    return 0.2


class Listeners:
    """The channels of a crowd; `listen` follows one person until their final status."""

    def __init__(self, target: str, polling_share: float, seed: int = 0) -> None:
        self._target, self._share = target, polling_share
        self._rng = random.Random(seed)
        self._channels: list[grpc.aio.Channel] = []

    async def __aenter__(self) -> "Listeners":
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        channels, self._channels = self._channels, []
        await asyncio.gather(*(c.close() for c in channels))

    def stub(self, n: int) -> pb_grpc.WaitroomServiceStub:
        """The stub of person n's channel (PER_CHANNEL people share one)."""
        while len(self._channels) <= n // PER_CHANNEL:
            options = [("grpc.use_local_subchannel_pool", 1)]
            self._channels.append(grpc.aio.insecure_channel(self._target, options=options))
        return pb_grpc.WaitroomServiceStub(self._channels[n // PER_CHANNEL])

    def mode(self) -> str:
        return POLL if self._rng.random() < self._share else WATCH

    async def listen(self, n: int, session_id: str, mode: str) -> Heard:
        heard, stub = Heard(mode), self.stub(n)
        try:
            if mode == WATCH:
                await _watch(stub, session_id, heard)
            else:
                await _poll(stub, session_id, heard)
        except grpc.aio.AioRpcError as error:
            heard.error = error.code().name
        return heard


async def _watch(stub: pb_grpc.WaitroomServiceStub, session_id: str, heard: Heard) -> None:
    """Holds the stream until its final message; reconnects when its server stops."""
    request = pb.WatchQueueStatusRequest(session_id=session_id)
    while True:
        try:
            async for message in stub.WatchQueueStatus(request):
                heard.updates += 1
                if message.final:
                    heard.final(message.status)
                    return
            heard.error = "ended without a final status"
            return
        except grpc.aio.AioRpcError as error:
            if error.code() != grpc.StatusCode.UNAVAILABLE or heard.reconnects >= RECONNECTS:
                raise
            heard.reconnects += 1
            await asyncio.sleep(_retry_after(error))


async def _poll(stub: pb_grpc.WaitroomServiceStub, session_id: str, heard: Heard) -> None:
    """Asks again after next_poll_after_seconds until the status is final."""
    request = pb.GetQueueStatusRequest(session_id=session_id)
    while True:
        try:
            status = await stub.GetQueueStatus(request, timeout=30)
        except grpc.aio.AioRpcError as error:
            if error.code() != grpc.StatusCode.UNAVAILABLE or heard.reconnects >= RECONNECTS:
                raise
            heard.reconnects += 1
            await asyncio.sleep(_retry_after(error))
            continue
        heard.updates += 1
        if is_final(status):
            heard.final(status)
            return
        await asyncio.sleep(status.next_poll_after_seconds or 1)


def delays(heard: Mapping[str, Heard], admitted_at: Mapping[str, float], mode: str) -> list[float]:
    """Seconds from each admission to the moment its ADMITTED status, with a token, arrived."""
    return [
        h.final_at - admitted_at[s]
        for s, h in heard.items()
        if h.mode == mode and h.status == pb.SESSION_STATUS_ADMITTED and h.token
        if s in admitted_at
    ]


def percentile(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def spread(values: Iterable[float], scale: float = 1000.0) -> dict[str, float]:
    """p50, p99 and max, times `scale` (milliseconds by default)."""
    ordered = sorted(v * scale for v in values)
    top = ordered[-1] if ordered else 0.0
    return {"p50": percentile(ordered, 50), "p99": percentile(ordered, 99), "max": top}


def wrong_tokens(heard: Mapping[str, Heard], ready_tokens: Mapping[str, str]) -> int:
    """People whose ADMITTED status carried a token other than their QUEUE_READY's."""
    admitted = [(s, h) for s, h in heard.items() if h.status == pb.SESSION_STATUS_ADMITTED]
    return sum(ready_tokens.get(s) != h.token for s, h in admitted)


def hearing_rows(
    heard: Mapping[str, Heard], admitted_at: Mapping[str, float]
) -> list[tuple[str, str]]:
    """How updates reached people: who watched and who polled, how many, and how soon."""
    rows = []
    for mode, how in ((WATCH, "watched (WatchQueueStatus)"), (POLL, "polled (GetQueueStatus)")):
        them = [h for h in heard.values() if h.mode == mode]
        updates, again = sum(h.updates for h in them), sum(h.reconnects for h in them)
        rows.append(
            (
                how,
                f"{len(them)} people, {updates} updates ({updates / max(len(them), 1):.1f} each)"
                + (f", {again} reconnects" if again else ""),
            )
        )
        late = spread(delays(heard, admitted_at, mode))
        rows.append(
            (
                "  admission to ADMITTED heard",
                f"p50 {late['p50']:.0f} ms  p99 {late['p99']:.0f} ms  max {late['max']:.0f} ms",
            )
        )
    finals = Counter(
        pb.SessionStatus.Name(h.status).removeprefix("SESSION_STATUS_") for h in heard.values()
    )
    rows.append(("final statuses heard", ", ".join(f"{n} {k}" for k, n in finals.most_common())))
    return rows
