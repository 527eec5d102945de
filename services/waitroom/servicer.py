"""gRPC adapters: proto <-> domain, domain errors -> status codes."""

import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from common.kafka.messages import timestamp_ms
from common.process.grpc_calls import Calls
from waitroom.lines import Lines
from waitroom.metrics import WaitroomMetrics
from waitroom.models import (
    AlreadyExistsError,
    EventState,
    EventView,
    FailedPreconditionError,
    NotFoundError,
    ShuttingDownError,
    Status,
    TooManyStreamsError,
)
from waitroom.processor import ProcessorStatus
from waitroom.service import QueueService, QueueStatus
from waitroom.watch import WatchHub
from waitroomapi.waitroom.v1 import waitroom_pb2 as pb
from waitroomapi.waitroom.v1 import waitroom_pb2_grpc as pb_grpc

logger = logging.getLogger(__name__)
_STATUS = {status: pb.SessionStatus.Value(f"SESSION_STATUS_{status.name}") for status in Status}
STATE = {state: pb.EventState.Value(f"EVENT_STATE_{state.name}") for state in EventState}
_ERRORS = (
    (NotFoundError, grpc.StatusCode.NOT_FOUND),
    (AlreadyExistsError, grpc.StatusCode.ALREADY_EXISTS),
    (FailedPreconditionError, grpc.StatusCode.FAILED_PRECONDITION),
    (TooManyStreamsError, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (ShuttingDownError, grpc.StatusCode.UNAVAILABLE),
)
UNAVAILABLE = "the waitroom is unavailable for a moment; retry"


def calls_of(metrics: WaitroomMetrics) -> Calls:
    return Calls(_ERRORS, UNAVAILABLE, metrics.requests)


def ts(ms: int) -> Timestamp | None:
    return timestamp_ms(ms) if ms else None


def _seconds_ts(seconds: float) -> Timestamp | None:
    return timestamp_ms(int(seconds * 1000)) if seconds else None


def _status(s: QueueStatus, polled: bool = True) -> pb.GetQueueStatusResponse:
    return pb.GetQueueStatusResponse(
        status=_STATUS[s.status],
        position=s.position,
        queue_length=s.queue_length,
        estimated_wait_seconds=s.estimated_wait_seconds,
        checkout_token=s.checkout_token,
        checkout_expires_at=ts(s.checkout_expires_at_ms),
        event_id=s.event_id,
        opens_at=ts(s.opens_at_ms),
        event_state=STATE[s.event_state],
        next_poll_after_seconds=s.next_poll_after_seconds if polled else 0,
    )


class WaitroomServicer(pb_grpc.WaitroomServiceServicer):
    service = pb.DESCRIPTOR.services_by_name["WaitroomService"]

    def __init__(
        self,
        queue: QueueService,
        lines: Lines,
        watch: WatchHub,
        processor_status: Callable[[], ProcessorStatus],
        metrics: WaitroomMetrics,
        instance: str = "",
        events: Callable[[], Awaitable[list[EventView]]] | None = None,
    ) -> None:
        """instance: this serving process's name; events: every event (EventAdmin.list)."""
        self._queue = queue
        self._lines = lines
        self._watch = watch
        self._processor_status = processor_status
        self._instance = instance
        self._events = events
        self.calls = calls_of(metrics)

    async def JoinQueue(
        self, request: pb.JoinQueueRequest, context: grpc.aio.ServicerContext
    ) -> pb.JoinQueueResponse:
        joined = await self.calls.run(
            "JoinQueue", context, lambda: self._queue.join(request.user_id, request.event_id)
        )
        return pb.JoinQueueResponse(
            session_id=joined.session_id,
            status=_STATUS[joined.status],
            position=joined.position,
            queue_length=joined.queue_length,
        )

    async def GetQueueStatus(
        self, request: pb.GetQueueStatusRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetQueueStatusResponse:
        s = await self.calls.run(
            "GetQueueStatus", context, lambda: self._lines.status(request.session_id)
        )
        return _status(s)

    async def WatchQueueStatus(
        self, request: pb.WatchQueueStatusRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.WatchQueueStatusResponse]:
        watch = self._watch.watch
        updates = self.calls.stream("WatchQueueStatus", context, lambda: watch(request.session_id))
        async for update in updates:
            yield pb.WatchQueueStatusResponse(
                status=_status(update.status, polled=False),
                next_update_within_seconds=update.within_seconds,
                final=update.final,
            )

    async def LeaveQueue(
        self, request: pb.LeaveQueueRequest, context: grpc.aio.ServicerContext
    ) -> pb.LeaveQueueResponse:
        status = await self.calls.run(
            "LeaveQueue", context, lambda: self._queue.leave(request.session_id)
        )
        return pb.LeaveQueueResponse(status=_STATUS[status])

    async def HealthCheck(
        self, request: pb.HealthCheckRequest, context: grpc.aio.ServicerContext
    ) -> pb.HealthCheckResponse:
        """This process's processor's figures, and the deployment's admitted total."""
        s = self._processor_status()
        self.calls.count("HealthCheck", grpc.StatusCode.OK)
        return pb.HealthCheckResponse(
            running=s.running,
            started_at=_seconds_ts(s.started_at),
            last_processed=_seconds_ts(s.last_processed),
            total_admitted=s.total_admitted,
            error_count=s.error_count,
            instance=self._instance,
            all_admitted=await self._all_admitted(),
        )

    async def _all_admitted(self) -> int | None:
        if self._events is None:
            return None
        try:
            return sum(view.total_admitted for view in await self._events())
        except Exception as error:  # health still answers while Redis is away
            logger.warning("HealthCheck could not read the events: %r", error)
            return None
