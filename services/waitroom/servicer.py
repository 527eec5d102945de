"""gRPC adapters: proto <-> domain, domain errors -> status codes."""

import hmac
import logging
from collections.abc import Awaitable, Callable

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from common.kafka.messages import timestamp_ms
from common.process.grpc_calls import Calls
from waitroom.admin import EventAdmin
from waitroom.metrics import WaitroomMetrics
from waitroom.models import (
    AlreadyExistsError,
    EventAction,
    EventChange,
    EventConfig,
    EventState,
    EventView,
    FailedPreconditionError,
    NotFoundError,
    Status,
)
from waitroom.processor import ProcessorStatus
from waitroom.service import QueueService
from waitroomapi.waitroom.v1 import waitroom_pb2 as pb
from waitroomapi.waitroom.v1 import waitroom_pb2_grpc as pb_grpc

logger = logging.getLogger(__name__)
_STATUS = {status: pb.SessionStatus.Value(f"SESSION_STATUS_{status.name}") for status in Status}
_STATE = {state: pb.EventState.Value(f"EVENT_STATE_{state.name}") for state in EventState}
_ACTION = {
    pb.EVENT_ACTION_PAUSE: EventAction.PAUSE,
    pb.EVENT_ACTION_RESUME: EventAction.RESUME,
    pb.EVENT_ACTION_CLOSE: EventAction.CLOSE,
}
_ERRORS = (
    (NotFoundError, grpc.StatusCode.NOT_FOUND),
    (AlreadyExistsError, grpc.StatusCode.ALREADY_EXISTS),
    (FailedPreconditionError, grpc.StatusCode.FAILED_PRECONDITION),
)
UNAVAILABLE = "the waitroom is unavailable for a moment; retry"


def calls_of(metrics: WaitroomMetrics) -> Calls:
    return Calls(_ERRORS, UNAVAILABLE, metrics.requests)


def _ts(ms: int) -> Timestamp | None:
    return timestamp_ms(ms) if ms else None


def _seconds_ts(seconds: float) -> Timestamp | None:
    return timestamp_ms(int(seconds * 1000)) if seconds else None


class WaitroomServicer(pb_grpc.WaitroomServiceServicer):
    service = pb.DESCRIPTOR.services_by_name["WaitroomService"]

    def __init__(
        self,
        queue: QueueService,
        processor_status: Callable[[], ProcessorStatus],
        metrics: WaitroomMetrics,
        instance: str = "",
        events: Callable[[], Awaitable[list[EventView]]] | None = None,
    ) -> None:
        """instance: this serving process's name; events: every event (EventAdmin.list)."""
        self._queue = queue
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
            "GetQueueStatus", context, lambda: self._queue.status(request.session_id)
        )
        return pb.GetQueueStatusResponse(
            status=_STATUS[s.status],
            position=s.position,
            queue_length=s.queue_length,
            estimated_wait_seconds=s.estimated_wait_seconds,
            checkout_token=s.checkout_token,
            checkout_expires_at=_ts(s.checkout_expires_at_ms),
            event_id=s.event_id,
            opens_at=_ts(s.opens_at_ms),
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


def _event(view: EventView) -> pb.Event:
    c = view.config
    return pb.Event(
        event_id=c.event_id,
        max_concurrent=c.max_concurrent,
        batch_size=c.batch_size,
        checkout_ttl_seconds=c.checkout_ttl_seconds,
        opens_at=_ts(c.opens_at_ms),
        tickets=c.tickets,
        state=_STATE[c.state],
        queue_length=view.queue_length,
        processing_count=view.processing_count,
        total_admitted=view.total_admitted,
        version=c.version,
        sold_out=view.sold_out,
    )


class AdminServicer(pb_grpc.AdminServiceServicer):
    """Every call needs `authorization: Bearer <admin token>`; without it, UNAUTHENTICATED."""

    service = pb.DESCRIPTOR.services_by_name["AdminService"]

    def __init__(self, admin: EventAdmin, admin_token: str, metrics: WaitroomMetrics) -> None:
        self._admin = admin
        self._expected = f"Bearer {admin_token}".encode()
        self.calls = calls_of(metrics)

    async def _authorize(self, method: str, context: grpc.aio.ServicerContext) -> None:
        sent = dict(context.invocation_metadata() or ()).get("authorization", "")
        sent_bytes = sent.encode() if isinstance(sent, str) else bytes(sent)
        if not hmac.compare_digest(sent_bytes, self._expected):
            await self.calls.refuse(
                method,
                context,
                grpc.StatusCode.UNAUTHENTICATED,
                "admin calls need 'authorization: Bearer <WAITROOM_ADMIN_TOKEN>'",
            )

    async def CreateEvent(
        self, request: pb.CreateEventRequest, context: grpc.aio.ServicerContext
    ) -> pb.Event:
        await self._authorize("CreateEvent", context)
        config = EventConfig(
            event_id=request.event_id,
            max_concurrent=request.max_concurrent,
            batch_size=request.batch_size,
            checkout_ttl_seconds=request.checkout_ttl_seconds,
            opens_at_ms=request.opens_at.ToMilliseconds() if request.HasField("opens_at") else 0,
            tickets=request.tickets,
            state=EventState.OPEN,
        )
        view = await self.calls.run("CreateEvent", context, lambda: self._admin.create(config))
        return _event(view)

    async def UpdateEvent(
        self, request: pb.UpdateEventRequest, context: grpc.aio.ServicerContext
    ) -> pb.Event:
        await self._authorize("UpdateEvent", context)

        def optional(name: str) -> int | None:
            return int(getattr(request, name)) if request.HasField(name) else None  # type: ignore[arg-type]

        change = EventChange(
            max_concurrent=optional("max_concurrent"),
            batch_size=optional("batch_size"),
            checkout_ttl_seconds=optional("checkout_ttl_seconds"),
            tickets=optional("tickets"),
            opens_at_ms=request.opens_at.ToMilliseconds() if request.HasField("opens_at") else None,
            action=_ACTION.get(request.action),
        )
        view = await self.calls.run(
            "UpdateEvent", context, lambda: self._admin.update(request.event_id, change)
        )
        return _event(view)

    async def GetEvent(
        self, request: pb.GetEventRequest, context: grpc.aio.ServicerContext
    ) -> pb.Event:
        await self._authorize("GetEvent", context)
        view = await self.calls.run("GetEvent", context, lambda: self._admin.get(request.event_id))
        return _event(view)

    async def ListEvents(
        self, request: pb.ListEventsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListEventsResponse:
        await self._authorize("ListEvents", context)
        views = await self.calls.run("ListEvents", context, self._admin.list)
        return pb.ListEventsResponse(events=[_event(view) for view in views])
