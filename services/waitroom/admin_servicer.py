"""The AdminService's gRPC adapter: proto <-> domain, and the admin token checked."""

import hmac

import grpc

from waitroom.admin import EventAdmin
from waitroom.metrics import WaitroomMetrics
from waitroom.models import EventAction, EventChange, EventConfig, EventState, EventView
from waitroom.servicer import STATE, calls_of, ts
from waitroomapi.waitroom.v1 import waitroom_pb2 as pb
from waitroomapi.waitroom.v1 import waitroom_pb2_grpc as pb_grpc

_ACTION = {
    pb.EVENT_ACTION_PAUSE: EventAction.PAUSE,
    pb.EVENT_ACTION_RESUME: EventAction.RESUME,
    pb.EVENT_ACTION_CLOSE: EventAction.CLOSE,
}


def _event(view: EventView) -> pb.Event:
    c = view.config
    return pb.Event(
        event_id=c.event_id,
        max_concurrent=c.max_concurrent,
        batch_size=c.batch_size,
        checkout_ttl_seconds=c.checkout_ttl_seconds,
        opens_at=ts(c.opens_at_ms),
        tickets=c.tickets,
        state=STATE[c.state],
        queue_length=view.queue_length,
        processing_count=view.processing_count,
        total_admitted=view.total_admitted,
        version=c.version,
        sold_out=view.sold_out,
        new_per_minute=c.new_per_minute,
        admitted_last_minute=view.admitted_last_minute,
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
            new_per_minute=request.new_per_minute,
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
            new_per_minute=optional("new_per_minute"),
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
