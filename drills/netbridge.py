"""`python -m drills.netbridge outside|inside DIR`: a waitroom replica in a network namespace of
its own, wired to the servers through unix sockets, so that a drill can cut or slow its links.

Inside the namespace 127.0.0.1 is the namespace's own loopback: the inside half listens there on
the Redis and Kafka ports (so the addresses that Redis Cluster and Kafka hand out lead to the
bridge too) and on the replica's side relays what the host sends to its gRPC and HTTP ports.
The outside half, on the host, does the reverse, and applies the fault to the replica's links
to the servers only: DIR/fault holds `none`, `partition` (nothing passes either way, as a
dropped link), or `slow DELAY_MS LOSS` (each chunk delayed, a LOSS share of them again three
times as long, the stall a lost segment's retransmission makes).
"""

import asyncio
import random
import sys
import time
from pathlib import Path

SERVERS = (7000, 7001, 7002, 7003, 7004, 7005, 9192, 9193, 9194)
SERVED = (50061, 9111)  # the replica's gRPC and HTTP ports
CHUNK = 65536


class Fault:
    def __init__(self, path: Path) -> None:
        self.path, self.mode, self.delay, self.loss = path, "none", 0.0, 0.0

    async def follow(self) -> None:
        while True:
            words = (self.path.read_text().split() if self.path.exists() else []) or ["none"]
            self.mode = words[0]
            self.delay = float(words[1]) / 1000 if len(words) > 1 else 0.0
            self.loss = float(words[2]) if len(words) > 2 else 0.0
            await asyncio.sleep(0.1)

    def lag(self) -> float:
        if self.mode != "slow":
            return 0.0
        return self.delay * (4 if random.random() < self.loss else 1)


async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, fault: Fault | None):
    """Relays one direction in order; with a fault, each chunk waits out its lag first."""
    try:
        while data := await reader.read(CHUNK):
            if fault is not None:
                due = time.monotonic() + fault.lag()
                while fault.mode == "partition" or time.monotonic() < due:  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


def relay(connect, fault: Fault | None):
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            far_reader, far_writer = await connect()
        except OSError:
            writer.close()
            return
        await asyncio.gather(pump(reader, far_writer, fault), pump(far_reader, writer, fault))

    return handle


def tcp(port: int):
    return lambda: asyncio.open_connection("127.0.0.1", port)


def unix(path: Path):
    return lambda: asyncio.open_unix_connection(str(path))


def prepare(side: str, folder: Path) -> None:
    """The folder, without the sockets this side listens on from an earlier run."""
    folder.mkdir(parents=True, exist_ok=True)
    listened = SERVERS if side == "outside" else SERVED
    prefix = "to" if side == "outside" else "serve"
    for port in listened:
        (folder / f"{prefix}-{port}.sock").unlink(missing_ok=True)


async def main(side: str, folder: Path) -> None:
    fault = Fault(folder / "fault")
    servers = []
    for port in SERVERS:
        sock = folder / f"to-{port}.sock"
        if side == "outside":
            servers.append(await asyncio.start_unix_server(relay(tcp(port), fault), str(sock)))
        else:
            servers.append(await asyncio.start_server(relay(unix(sock), None), "127.0.0.1", port))
    for port in SERVED:
        sock = folder / f"serve-{port}.sock"
        if side == "outside":
            servers.append(await asyncio.start_server(relay(unix(sock), None), "127.0.0.1", port))
        else:
            servers.append(await asyncio.start_unix_server(relay(tcp(port), None), str(sock)))
    print(f"[netbridge] {side} ready", flush=True)
    await fault.follow()


if __name__ == "__main__":
    prepare(sys.argv[1], Path(sys.argv[2]))
    asyncio.run(main(sys.argv[1], Path(sys.argv[2])))
