"""What starts and stops: `async with` starts and stops it, and a second stop does nothing."""

import aiohttp
from prometheus_client import CollectorRegistry

from common.kafka.publisher import Publisher
from common.process.http import HttpServer


async def test_the_http_port_serves_inside_async_with_and_stops_once():
    async with (
        HttpServer(CollectorRegistry(), "127.0.0.1", 0) as http,
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{http.port}/livez") as reply,
    ):
        assert (reply.status, await reply.text()) == (200, "ok\n")
    await http.stop()  # stopped already: returns at once
    assert not http._serving


async def test_a_publisher_never_used_stops_at_once_any_number_of_times():
    publisher = Publisher("127.0.0.1:1", timeout=1.0, client_id="unused")
    await publisher.stop()
    await publisher.stop()
    assert publisher._producer is None
