"""The one gRPC call adapter: domain errors to status codes, request metrics, corrupt bytes."""

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn, Protocol, TypeVar

import grpc
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.protobuf.message import DecodeError, Message
from google.protobuf.message_factory import GetMessageClass
from prometheus_client import Counter

logger = logging.getLogger(__name__)
T = TypeVar("T")
ErrorTable = Sequence[tuple[type[Exception], grpc.StatusCode]]
# What every service means by these; a service's own table is looked at first.
COMMON_ERRORS: ErrorTable = ((ValueError, grpc.StatusCode.INVALID_ARGUMENT),)


@dataclass(frozen=True, slots=True)
class Corrupt:
    """What a request becomes whose bytes are no valid protobuf of its type."""

    message: str


class Calls:
    """Runs a servicer's calls: each ends OK or with a clear status, and is counted."""

    def __init__(self, errors: ErrorTable, unavailable: str, requests: Counter) -> None:
        """errors: domain exception -> code, first match wins; unavailable: the retry hint."""
        self._errors = (*errors, *COMMON_ERRORS)
        self._unavailable = unavailable
        self._requests = requests

    async def run(
        self,
        method: str,
        context: grpc.aio.ServicerContext,
        work: Callable[[], Awaitable[T]],
        counted: bool = True,
    ) -> T:
        """Known errors end the call with their code and message; others with UNAVAILABLE,
        their traceback logged once (the caller sees only the retry hint)."""
        try:
            result = await work()
        except Exception as error:
            code = self._code_of(error)
            message = str(error)
            if code is None:
                logger.exception("%s failed", method)
                code, message = grpc.StatusCode.UNAVAILABLE, self._unavailable
            await self.refuse(method, context, code, message, counted)
        if counted:
            self.count(method, grpc.StatusCode.OK)
        return result

    async def refuse(
        self,
        method: str,
        context: grpc.aio.ServicerContext,
        code: grpc.StatusCode,
        message: str,
        counted: bool = True,
    ) -> NoReturn:
        if counted:
            self.count(method, code)
        await context.abort(code, message)
        raise AssertionError("abort raises")

    def count(self, method: str, code: grpc.StatusCode) -> None:
        self._requests.labels(method, code.name).inc()

    def _code_of(self, error: Exception) -> grpc.StatusCode | None:
        return next((code for kind, code in self._errors if isinstance(error, kind)), None)


class Servicer(Protocol):
    service: ServiceDescriptor  # the proto service it implements
    calls: Calls


def add_service(server: grpc.aio.Server, servicer: Servicer) -> None:
    """Registers the servicer's methods like the generated add_*_to_server, except that a
    request's corrupt bytes end in INVALID_ARGUMENT (grpc.aio answers UNKNOWN and logs a
    traceback when a deserializer raises)."""
    service, calls = servicer.service, servicer.calls
    handlers = {m.name: _handler(m, getattr(servicer, m.name), calls) for m in service.methods}
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(service.full_name, handlers),)
    )
    # as the generated code does: registered methods skip the generic handlers' lookup
    server.add_registered_method_handlers(service.full_name, handlers)


def _handler(method: MethodDescriptor, behaviour: Any, calls: Calls) -> grpc.RpcMethodHandler:
    if method.client_streaming:
        raise NotImplementedError(f"{method.full_name}: client streams are not served")
    read = _reader(GetMessageClass(method.input_type))
    write = GetMessageClass(method.output_type).SerializeToString
    name = method.name

    async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
        if isinstance(request, Corrupt):
            await calls.refuse(name, context, grpc.StatusCode.INVALID_ARGUMENT, request.message)
        return await behaviour(request, context)

    async def stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        if isinstance(request, Corrupt):
            await calls.refuse(name, context, grpc.StatusCode.INVALID_ARGUMENT, request.message)
        async for response in behaviour(request, context):
            yield response

    if method.server_streaming:
        return grpc.unary_stream_rpc_method_handler(stream, read, write)
    return grpc.unary_unary_rpc_method_handler(unary, read, write)


def _reader(request_type: type[Message]) -> Callable[[bytes], Message | Corrupt]:
    kind = request_type.DESCRIPTOR.full_name

    def read(data: bytes) -> Message | Corrupt:
        try:
            return request_type.FromString(data)
        except DecodeError as error:
            return Corrupt(f"the request is not a valid {kind}: {error}")

    return read
