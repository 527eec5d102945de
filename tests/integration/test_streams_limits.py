"""Streams under operations: a stream's own messages (at least every WATCH_MAX_SILENCE) carry
it through a proxy that cuts idle connections, where one that keeps quiet longer is cut; one
session holds at most WATCH_STREAMS_PER_SESSION streams on a serving process however its
reconnects race."""

import asyncio
from datetime import timedelta

import grpc
import pytest

from tests.integration.conftest import create_event
from tests.integration.idle_proxy import IdleProxy
from tests.integration.test_watch import WATCHING, join
from tests.integration.watching import Watching, status_is
from waitroomapi.waitroom.v1 import waitroom_pb2 as pb
from waitroomapi.waitroom.v1 import waitroom_pb2_grpc as pb_grpc

pytestmark = pytest.mark.timeout(120)
IDLE = 3.0  # the proxy's idle timeout in these tests (a real one: often 60 s)
PROXY_PORTS = (52410, 52411)


async def watched_through_proxy(start_server, event_id, port: int, silence: float):
    """A person alone in line (nothing changes) watched through an idle-cutting proxy."""
    server = await start_server(watch_max_silence=timedelta(seconds=silence), **WATCHING)
    proxy = await IdleProxy(port, server.port, IDLE).start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    await create_event(channel, event_id)
    watching = Watching(channel, await join(channel, event_id, "fan"))
    await watching.first(status_is(pb.SESSION_STATUS_QUEUED))
    return proxy, channel, watching


async def test_a_streams_messages_carry_it_through_a_proxys_idle_timeout(start_server, event_id):
    proxy, channel, watching = await watched_through_proxy(
        start_server, event_id, PROXY_PORTS[0], silence=1.0
    )
    await asyncio.sleep(4 * IDLE)  # four idle timeouts with nothing to tell
    try:
        assert not watching.ended.is_set()
        assert proxy.cuts == 0
        assert len(watching.messages) >= 4  # the keepalives that did it: the same status again
        assert {m.status.status for _, m in watching.messages} == {pb.SESSION_STATUS_QUEUED}
        assert all(m.next_update_within_seconds <= 1 for _, m in watching.messages)
    finally:
        watching.cancel()
        await channel.close()
        await proxy.stop()


async def test_a_stream_quiet_for_longer_than_the_proxys_idle_timeout_is_cut(
    start_server, event_id
):
    proxy, channel, watching = await watched_through_proxy(
        start_server, event_id, PROXY_PORTS[1], silence=20.0
    )
    try:
        await watching.end(within=4 * IDLE)  # the proxy cut it: the client must reconnect
        assert proxy.cuts == 1
        assert watching.error is not None
        assert watching.error.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        await channel.close()
        await proxy.stop()


async def test_one_session_holds_a_bounded_number_of_streams_however_its_reconnects_race(
    start_server, channel_to, event_id
):
    server = await start_server(**WATCHING)  # WATCH_STREAMS_PER_SESSION=3
    channels = [channel_to(server) for _ in range(4)]  # connections of their own: calls race
    channel = channels[0]
    await create_event(channel, event_id)
    stubs = [pb_grpc.WaitroomServiceStub(c) for c in channels]
    request = pb.WatchQueueStatusRequest(session_id=await join(channel, event_id, "fan"))
    held, opened, loop = [], [], asyncio.get_running_loop()
    for _ in range(6):  # each round: 12 at once over 4 connections, racing the last round's ends
        calls = [stubs[n % 4].WatchQueueStatus(request) for n in range(12)]
        for n, call in enumerate(opened):  # the old ones end while the new ones open
            loop.call_later(0.004 * n, call.cancel)
        firsts = await asyncio.gather(*(c.read() for c in calls), return_exceptions=True)
        opened = [c for c, f in zip(calls, firsts, strict=True) if not isinstance(f, Exception)]
        refused = {f.code() for f in firsts if isinstance(f, grpc.aio.AioRpcError)}
        held.append((len(opened), server.registry.get_sample_value("waitroom_watch_streams")))
        assert refused <= {grpc.StatusCode.RESOURCE_EXHAUSTED}
    for call in opened:
        call.cancel()
    print(f"streams open per round (client, server): {held}")
    assert held[0] == (3, 3)  # the first round: exactly the bound
    assert all(n <= 3 and (streams or 0) <= 3 for n, streams in held)  # never more
    async with asyncio.timeout(10):  # every close counted: no place of the session leaked
        while server.registry.get_sample_value("waitroom_watch_streams"):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    again = [Watching(c, request.session_id) for c in channels[:3]]
    for w in again:
        await w.first(status_is(pb.SESSION_STATUS_QUEUED))
        w.cancel()
