"""gRPC adapter of checkout: proto <-> domain, domain errors -> status codes."""

import grpc

from checkout.metrics import CheckoutMetrics
from checkout.models import (
    CatchingUpError,
    FailedPreconditionError,
    Hold,
    HoldStatus,
    PermissionDeniedError,
    UnauthenticatedError,
)
from checkout.service import CheckoutService
from common.kafka.messages import timestamp_ms
from common.process.grpc_calls import Calls
from waitroomapi.checkout.v1 import checkout_pb2 as pb
from waitroomapi.checkout.v1 import checkout_pb2_grpc as pb_grpc

_STATUS = {status: pb.HoldStatus.Value(f"HOLD_STATUS_{status.name}") for status in HoldStatus}
_ERRORS = (
    (UnauthenticatedError, grpc.StatusCode.UNAUTHENTICATED),
    (PermissionDeniedError, grpc.StatusCode.PERMISSION_DENIED),
    (CatchingUpError, grpc.StatusCode.UNAVAILABLE),
    (FailedPreconditionError, grpc.StatusCode.FAILED_PRECONDITION),
)
UNAVAILABLE = "checkout is unavailable for a moment; retry"


def _token(sent: str, context: grpc.aio.ServicerContext) -> str:
    """The token from the request, or from `authorization: Bearer <token>` metadata."""
    if sent:
        return sent
    header = dict(context.invocation_metadata() or ()).get("authorization", "")
    header = header if isinstance(header, str) else header.decode(errors="replace")
    return header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""


def _checkout(hold: Hold) -> pb.Checkout:
    return pb.Checkout(
        session_id=hold.session_id,
        event_id=hold.event_id,
        quantity=hold.quantity,
        expires_at=timestamp_ms(hold.expires_at_ms),
        status=_STATUS[hold.status],
        order_id=hold.order_id,
    )


class CheckoutServicer(pb_grpc.CheckoutServiceServicer):
    service = pb.DESCRIPTOR.services_by_name["CheckoutService"]

    def __init__(self, checkout: CheckoutService, metrics: CheckoutMetrics) -> None:
        self._checkout = checkout
        self.calls = Calls(_ERRORS, UNAVAILABLE, metrics.requests)

    async def GetCheckout(
        self, request: pb.GetCheckoutRequest, context: grpc.aio.ServicerContext
    ) -> pb.Checkout:
        token = _token(request.checkout_token, context)
        return _checkout(
            await self.calls.run("GetCheckout", context, lambda: self._checkout.get(token))
        )

    async def CompletePurchase(
        self, request: pb.CompletePurchaseRequest, context: grpc.aio.ServicerContext
    ) -> pb.CompletePurchaseResponse:
        token = _token(request.checkout_token, context)
        order = await self.calls.run(
            "CompletePurchase",
            context,
            lambda: self._checkout.purchase(token, request.quantity, request.payment_reference),
        )
        return pb.CompletePurchaseResponse(order_id=order.order_id, quantity=order.quantity)

    async def CancelCheckout(
        self, request: pb.CancelCheckoutRequest, context: grpc.aio.ServicerContext
    ) -> pb.Checkout:
        token = _token(request.checkout_token, context)
        return _checkout(
            await self.calls.run("CancelCheckout", context, lambda: self._checkout.cancel(token))
        )
