"""The one call adapter, on the three real servers: corrupt bytes, unknown events, metrics."""

import logging

import grpc
import pytest
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from waitroomapi.checkout.v1 import checkout_pb2, checkout_pb2_grpc
from waitroomapi.stats.v1 import stats_pb2, stats_pb2_grpc
from waitroomapi.waitroom.v1 import waitroom_pb2, waitroom_pb2_grpc

GARBAGE = b"\xff\xff\xff\xff"  # field 31 with wire type 7: no protobuf at all


def identity(data: bytes) -> bytes:
    return data


async def send_garbage(channel: grpc.aio.Channel, method: str) -> grpc.aio.AioRpcError:
    call = channel.unary_unary(method, request_serializer=identity, response_deserializer=identity)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await call(GARBAGE)
    return refused.value


async def listed_services(channel: grpc.aio.Channel) -> set[str]:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    async for reply in stub.ServerReflectionInfo(iter([request])):
        return {s.name for s in reply.list_services_response.service}
    return set()


def requests(server, method: str, code: str) -> float:
    name = f"{server.name}_grpc_requests_total"
    return server.registry.get_sample_value(name, {"method": method, "code": code}) or 0


async def test_corrupt_bytes_to_the_waitroom_are_an_invalid_argument(start_server, caplog):
    server = await start_server()
    caplog.set_level(logging.INFO)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        error = await send_garbage(channel, "/waitroom.v1.WaitroomService/JoinQueue")
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "the request is not a valid waitroom.v1.JoinQueueRequest" in error.details()
        reply = await waitroom_pb2_grpc.WaitroomServiceStub(channel).HealthCheck(
            waitroom_pb2.HealthCheckRequest()
        )
        assert reply.running
        assert "waitroom.v1.WaitroomService" in await listed_services(channel)
    assert requests(server, "JoinQueue", "INVALID_ARGUMENT") == 1
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


async def test_corrupt_bytes_to_checkout_are_an_invalid_argument(start_server, start_checkout):
    server = await start_checkout(await start_server())
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        error = await send_garbage(channel, "/checkout.v1.CheckoutService/GetCheckout")
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "the request is not a valid checkout.v1.GetCheckoutRequest" in error.details()
        with pytest.raises(grpc.aio.AioRpcError) as no_token:
            await checkout_pb2_grpc.CheckoutServiceStub(channel).GetCheckout(
                checkout_pb2.GetCheckoutRequest()
            )
        assert no_token.value.code() == grpc.StatusCode.UNAUTHENTICATED  # it still answers
        assert "checkout.v1.CheckoutService" in await listed_services(channel)
    assert requests(server, "GetCheckout", "INVALID_ARGUMENT") == 1


async def test_corrupt_bytes_to_stats_are_an_invalid_argument(start_stats):
    server = await start_stats()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        error = await send_garbage(channel, "/stats.v1.StatsService/GetEventStats")
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "the request is not a valid stats.v1.GetEventStatsRequest" in error.details()
        pool = await stats_pb2_grpc.StatsServiceStub(channel).GetQueueStats(
            stats_pb2.GetQueueStatsRequest()
        )
        assert pool.workers_running > 0
        assert "stats.v1.StatsService" in await listed_services(channel)
    assert requests(server, "GetEventStats", "INVALID_ARGUMENT") == 1


async def test_stats_of_an_unknown_event_are_not_found(start_stats):
    server = await start_stats()
    unknown = stats_pb2.GetEventStatsRequest(event_id="never-created")
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        stub = stats_pb2_grpc.StatsServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as got:
            await stub.GetEventStats(unknown)
        assert got.value.code() == grpc.StatusCode.NOT_FOUND
        assert "never-created" in got.value.details()
        with pytest.raises(grpc.aio.AioRpcError) as watched:
            async for _ in stub.WatchEventStats(unknown):
                pass
        assert watched.value.code() == grpc.StatusCode.NOT_FOUND
    assert requests(server, "GetEventStats", "NOT_FOUND") == 1
    assert requests(server, "WatchEventStats", "NOT_FOUND") == 1
