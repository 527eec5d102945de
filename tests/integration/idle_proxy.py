"""A TCP proxy that cuts every connection idle for `idle` seconds (no byte either way), as a
load balancer or NAT with an idle timeout does (AWS ALB 60 s, nginx's proxy_read_timeout)."""

import asyncio
import contextlib
import time


class IdleProxy:
    def __init__(self, port: int, target_port: int, idle: float) -> None:
        self.port, self.target_port, self.idle = port, target_port, idle
        self.cuts = 0  # connections cut for idling
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> "IdleProxy":
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        last = [time.monotonic()]
        pipes = [
            asyncio.create_task(self._pipe(reader, up_writer, last)),
            asyncio.create_task(self._pipe(up_reader, writer, last)),
        ]
        try:
            while not any(p.done() for p in pipes):
                await asyncio.sleep(0.05)
                if time.monotonic() - last[0] >= self.idle:
                    self.cuts += 1
                    break
        finally:
            for pipe in pipes:
                pipe.cancel()
            for w in (writer, up_writer):
                w.close()
            self._tasks.discard(task)

    @staticmethod
    async def _pipe(
        source: asyncio.StreamReader, sink: asyncio.StreamWriter, last: list[float]
    ) -> None:
        with contextlib.suppress(ConnectionError):
            while chunk := await source.read(65536):
                last[0] = time.monotonic()
                sink.write(chunk)
                await sink.drain()
