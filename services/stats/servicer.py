"""gRPC adapter of stats: proto <-> figures, errors -> status codes."""

import asyncio
from collections.abc import AsyncIterator, Callable

import grpc
from prometheus_client import Counter

from common.kafka.messages import timestamp_ms
from common.kafka.taskpool import PoolState
from common.process.grpc_calls import Calls
from stats.models import EventFigures, NotFoundError, SessionFacts
from stats.service import StatsService
from waitroomapi.stats.v1 import stats_pb2 as pb
from waitroomapi.stats.v1 import stats_pb2_grpc as pb_grpc

_ERRORS = ((NotFoundError, grpc.StatusCode.NOT_FOUND),)
UNAVAILABLE = "stats are unavailable for a moment; retry"


def _figures(f: EventFigures) -> pb.EventStats:
    return pb.EventStats(
        event_id=f.event_id,
        joined=f.joined,
        queued_now=f.queued_now,
        admitted=f.admitted,
        in_checkout_now=f.in_checkout_now,
        completed=f.completed,
        expired=f.expired,
        cancelled=f.cancelled,
        left=f.left,
        sold_out=f.sold_out,
        tickets_total=f.tickets_total,
        tickets_sold=f.tickets_sold,
        tickets_left=f.tickets_left,
        conversion_rate=f.conversion_rate,
        wait_seconds=pb.Percentiles(
            p50=f.wait_seconds[0], p90=f.wait_seconds[1], p99=f.wait_seconds[2]
        ),
        checkout_seconds=pb.Percentiles(
            p50=f.checkout_seconds[0], p90=f.checkout_seconds[1], p99=f.checkout_seconds[2]
        ),
        admission_rate_per_second=f.admission_rate_per_second,
        estimated_clear_seconds=f.estimated_clear_seconds,
        sold_out_in_line=f.sold_out_in_line,
    )


def _session(s: SessionFacts) -> pb.UserSession:
    wait = (s.admitted_at_ms - s.joined_at_ms) / 1000 if s.admitted_at_ms and s.joined_at_ms else 0
    return pb.UserSession(
        session_id=s.session_id,
        outcome=s.outcome,
        joined_at=timestamp_ms(s.joined_at_ms) if s.joined_at_ms else None,
        admitted_at=timestamp_ms(s.admitted_at_ms) if s.admitted_at_ms else None,
        ended_at=timestamp_ms(s.ended_at_ms) if s.ended_at_ms else None,
        wait_seconds=wait,
        tickets=s.tickets,
    )


class StatsServicer(pb_grpc.StatsServiceServicer):
    service = pb.DESCRIPTOR.services_by_name["StatsService"]

    def __init__(
        self,
        stats: StatsService,
        pool_state: Callable[[], tuple[PoolState, int]],
        requests: Counter,
        interval: float = 1.0,
    ) -> None:
        self._stats = stats
        self._pool_state = pool_state
        self.calls = Calls(_ERRORS, UNAVAILABLE, requests)
        self._interval = interval

    async def GetEventStats(
        self, request: pb.GetEventStatsRequest, context: grpc.aio.ServicerContext
    ) -> pb.EventStats:
        figures = await self.calls.run(
            "GetEventStats", context, lambda: self._stats.event(request.event_id)
        )
        return _figures(figures)

    async def WatchEventStats(
        self, request: pb.GetEventStatsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.EventStats]:
        """Counted once, by how its first figures went; a failure later ends the stream too."""
        first = True
        while True:
            figures = await self.calls.run(
                "WatchEventStats", context, lambda: self._stats.event(request.event_id), first
            )
            yield _figures(figures)
            first = False
            await asyncio.sleep(self._interval)

    async def GetUserStats(
        self, request: pb.GetUserStatsRequest, context: grpc.aio.ServicerContext
    ) -> pb.UserStats:
        sessions = await self.calls.run(
            "GetUserStats", context, lambda: self._stats.user(request.user_id, request.event_id)
        )
        return pb.UserStats(
            user_id=request.user_id,
            event_id=request.event_id,
            sessions=[_session(s) for s in sessions],
        )

    async def GetQueueStats(
        self, request: pb.GetQueueStatsRequest, context: grpc.aio.ServicerContext
    ) -> pb.QueueStats:
        state, paused = self._pool_state()
        self.calls.count("GetQueueStats", grpc.StatusCode.OK)
        return pb.QueueStats(
            queue_size=state.queue_size,
            capacity=state.capacity,
            workers_running=state.workers_running,
            workers_idle=state.workers_idle,
            processed=state.processed,
            retried=state.retried,
            failed=state.failed,
            dead_lettered=state.dead_lettered,
            paused_partitions=paused,
        )
