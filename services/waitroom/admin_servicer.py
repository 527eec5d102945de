"""The AdminService's gRPC adapter: proto <-> domain, and the admin token checked."""

import hmac

import grpc
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

from waitroom.admin import EventAdmin
from waitroom.audit import AuditEntry, AuditTrail, operator_of, reason_of
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


def _audit_entry(entry: AuditEntry) -> pb.AuditEntry:
    return pb.AuditEntry(
        entry_id=entry.entry_id,
        at=ts(entry.at_ms),
        operator=entry.operator.name,
        peer=entry.operator.peer,
        action=entry.action,
        event_id=entry.event_id,
        detail=entry.detail,
        reason=entry.reason,
    )


class AdminServicer(pb_grpc.AdminServiceServicer):
    """Every call needs `authorization: Bearer <admin token>`; without it, UNAUTHENTICATED.
    Every call that changes something is written to the audit trail once it took effect."""

    service = pb.DESCRIPTOR.services_by_name["AdminService"]

    def __init__(
        self, admin: EventAdmin, admin_token: str, metrics: WaitroomMetrics, audit: AuditTrail
    ) -> None:
        self._admin = admin
        self._expected = f"Bearer {admin_token}".encode()
        self.calls = calls_of(metrics)
        self._audit = audit

    async def audited(
        self,
        context: grpc.aio.ServicerContext,
        action: str,
        request: Message,
        event_id: str,
        reason: str = "",
    ) -> None:
        """Writes the action to the trail: who (x-operator, the peer), what (the request as
        JSON: never pass one that holds a secret), why (reason, else x-reason)."""
        metadata = dict(context.invocation_metadata() or ())
        operator = operator_of(metadata, context.peer())
        detail = MessageToDict(request, preserving_proto_field_name=True)
        await self.calls.run(
            action,
            context,
            lambda: self._audit.record(
                operator, action, event_id, detail, reason_of(metadata, reason)
            ),
            counted=False,
        )

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
        await self.audited(context, "CreateEvent", request, config.event_id)
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
        await self.audited(context, "UpdateEvent", request, request.event_id)
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

    async def ListAuditEntries(
        self, request: pb.ListAuditEntriesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListAuditEntriesResponse:
        await self._authorize("ListAuditEntries", context)
        entries = await self.calls.run(
            "ListAuditEntries",
            context,
            lambda: self._audit.entries(request.event_id, request.limit, request.before),
        )
        return pb.ListAuditEntriesResponse(entries=[_audit_entry(entry) for entry in entries])
