"""The HTTP side port: Prometheus metrics, liveness, and any extra JSON documents."""

from collections.abc import Callable
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from common.process.resource import Resource


class HttpServer(Resource):
    def __init__(
        self,
        registry: CollectorRegistry,
        host: str,
        port: int | None,
        documents: dict[str, Callable[[], dict[str, Any]]] | None = None,
    ) -> None:
        self._registry = registry
        self._host, self._port = host, port
        self._app = web.Application()
        self._app.router.add_get("/metrics", self._metrics)
        self._app.router.add_get("/livez", self._live)
        for path, document in (documents or {}).items():
            self._app.router.add_get(path, self._json(document))
        self._runner = web.AppRunner(self._app, access_log=None)
        self._serving = False
        self.port = port or 0

    async def start(self) -> None:
        """Serves on host:port; with port None (a worker whose sibling serves HTTP) it does not."""
        if self._port is None or self._serving:
            return
        self._serving = True
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])  # the real port when asked for 0

    async def stop(self) -> None:
        if self._serving:
            self._serving = False
            await self._runner.cleanup()

    async def _metrics(self, _: web.Request) -> web.Response:
        body = generate_latest(self._registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _live(self, _: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    @staticmethod
    def _json(document: Callable[[], dict[str, Any]]) -> Callable[[web.Request], Any]:
        async def handler(_: web.Request) -> web.Response:
            return web.json_response(document(), headers={"Cache-Control": "max-age=60"})

        return handler
