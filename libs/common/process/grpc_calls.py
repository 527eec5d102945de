"""The one gRPC call adapter: domain errors to status codes, request metrics, corrupt bytes,
and deadlines (common.process.deadlines: shed what cannot be answered in time)."""

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn, Protocol, TypeVar

import grpc
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.protobuf.message import DecodeError, Message
from google.protobuf.message_factory import GetMessageClass
from prometheus_client import Counter

from common.process.deadlines import RETRY_HINT, SPENT, TOO_SHORT, Shedding
from common.process.outages import OUTAGES

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
        self.unavailable = unavailable
        self._requests = requests
        self._counters: dict[tuple[str, grpc.StatusCode], Any] = {}  # labels() once each

    async def run(
        self,
        method: str,
        context: grpc.aio.ServicerContext,
        work: Callable[[], Awaitable[T]],
        counted: bool = True,
    ) -> T:
        """Known errors end the call with their code and message; a Redis or Kafka outage with
        UNAVAILABLE and the retry hint; others too, their traceback logged once."""
        try:
            result = await work()
        except Exception as error:
            await self.fail(method, context, error, counted)
        if counted:
            self.count(method, grpc.StatusCode.OK)
        return result

    async def stream(
        self,
        method: str,
        context: grpc.aio.ServicerContext,
        messages: Callable[[], AsyncGenerator[T, None]],
    ) -> AsyncIterator[T]:
        """A server stream's messages; an error, when it opens or later, ends it as run's do.
        Counted once, when it ends (CANCELLED: the client went away)."""
        try:
            async with contextlib.aclosing(messages()) as stream:
                async for message in stream:
                    yield message
        except asyncio.CancelledError:
            self.count(method, grpc.StatusCode.CANCELLED)
            raise
        except Exception as error:
            await self.fail(method, context, error)
        self.count(method, grpc.StatusCode.OK)

    async def fail(
        self,
        method: str,
        context: grpc.aio.ServicerContext,
        error: Exception,
        counted: bool = True,
    ) -> NoReturn:
        """Ends the call for the error: its code from the table, else UNAVAILABLE."""
        code = self._code_of(error)
        if code is not None:
            await self.refuse(method, context, code, str(error), counted)
        if isinstance(error, OUTAGES):
            logger.warning("%s met an outage: %r", method, error)
        else:
            logger.error("%s failed", method, exc_info=error)
        unavailable = grpc.StatusCode.UNAVAILABLE
        await self.refuse(method, context, unavailable, self.unavailable, counted)

    async def refuse(
        self,
        method: str,
        context: grpc.aio.ServicerContext,
        code: grpc.StatusCode,
        message: str,
        counted: bool = True,
        trailing: tuple[tuple[str, str], ...] = (),
    ) -> NoReturn:
        if counted:
            self.count(method, code)
        if code is grpc.StatusCode.UNAVAILABLE and not trailing:
            trailing = RETRY_HINT  # whatever made it unavailable, the client may retry
        await context.abort(code, message, trailing)
        raise AssertionError("abort raises")

    def count(self, method: str, code: grpc.StatusCode) -> None:
        counter = self._counters.get((method, code))
        if counter is None:
            counter = self._counters[method, code] = self._requests.labels(method, code.name)
        counter.inc()

    def _code_of(self, error: Exception) -> grpc.StatusCode | None:
        return next((code for kind, code in self._errors if isinstance(error, kind)), None)


class Servicer(Protocol):
    service: ServiceDescriptor  # the proto service it implements
    calls: Calls


def add_service(
    server: grpc.aio.Server, servicer: Servicer, shedding: Shedding | None = None
) -> None:
    """Registers the servicer's methods like the generated add_*_to_server, except that a
    request's corrupt bytes end in INVALID_ARGUMENT (grpc.aio answers UNKNOWN and logs a
    traceback when a deserializer raises), and that with `shedding` a call's deadline is
    kept: refused early when too short, its work bounded by it (unary calls)."""
    service, calls = servicer.service, servicer.calls
    handlers = {
        m.name: _handler(m, getattr(servicer, m.name), Adapter(m.name, calls, shedding))
        for m in service.methods
    }
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(service.full_name, handlers),)
    )
    # as the generated code does: registered methods skip the generic handlers' lookup
    server.add_registered_method_handlers(service.full_name, handlers)


class Adapter:
    """What every call of one method goes through before and around the service."""

    def __init__(self, method: str, calls: Calls, shedding: Shedding | None) -> None:
        self.method, self._calls, self._shedding = method, calls, shedding

    async def admit(self, request: Any, context: grpc.aio.ServicerContext) -> float | None:
        """Refuses a corrupt request or a deadline too near; returns the work's budget."""
        if isinstance(request, Corrupt):
            await self._calls.refuse(
                self.method, context, grpc.StatusCode.INVALID_ARGUMENT, request.message
            )
        if self._shedding is None:
            return None
        remaining: float | None = context.time_remaining()
        if self._shedding.rule.refuses(remaining, self._shedding.expected(self.method)):
            self._shedding.count(self.method, TOO_SHORT)
            message = f"{(remaining or 0) * 1000:.0f} ms left: too little to answer in; refused"
            await self._calls.refuse(
                self.method, context, grpc.StatusCode.DEADLINE_EXCEEDED, message
            )
        return self._shedding.rule.budget(remaining)

    async def bounded(self, work: Awaitable[T], budget: float | None, context: Any) -> T:
        """The work, ended UNAVAILABLE with the retry hint when its budget runs out."""
        if self._shedding is None:
            return await work
        scope, started = asyncio.timeout(budget), time.monotonic()
        try:
            async with scope:
                return await work
        except TimeoutError:
            if not scope.expired():
                raise  # the work's own timeout, not the caller's deadline
        finally:
            self._shedding.took(self.method, time.monotonic() - started)
        assert self._shedding is not None
        self._shedding.count(self.method, SPENT)
        message = f"{self._calls.unavailable} (not done within the call's deadline)"
        await self._calls.refuse(
            self.method, context, grpc.StatusCode.UNAVAILABLE, message, trailing=RETRY_HINT
        )


def _handler(method: MethodDescriptor, behaviour: Any, adapter: Adapter) -> grpc.RpcMethodHandler:
    if method.client_streaming:
        raise NotImplementedError(f"{method.full_name}: client streams are not served")
    read = _reader(GetMessageClass(method.input_type))
    write = GetMessageClass(method.output_type).SerializeToString

    async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
        budget = await adapter.admit(request, context)
        return await adapter.bounded(behaviour(request, context), budget, context)

    async def stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        await adapter.admit(request, context)  # a stream lasts: only refused, never bounded
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
