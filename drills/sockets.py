"""Which serving process a client's connection landed on (several share a port through
SO_REUSEPORT and the kernel picks one per connection), read from /proc on this machine."""

import contextlib
import os
import resource
from pathlib import Path

import grpc

# Channels of one process share their connections unless each keeps its own pool.
OWN_CONNECTION = (("grpc.use_local_subchannel_pool", 1),)


def raise_open_files() -> int:
    """The soft limit on open files raised to the hard one (a crowd of channels); the limit."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def _tcp() -> list[tuple[int, int, str]]:
    """(local port, remote port, socket inode) of every TCP socket (gRPC's are IPv6 ones,
    with IPv4 addresses mapped)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, remote = fields[1].split(":")[1], fields[2].split(":")[1]
            found.append((int(local, 16), int(remote, 16), f"socket:[{fields[9]}]"))
    return found


def _sockets_of(pid: int | str) -> set[str]:
    found = set()
    with contextlib.suppress(FileNotFoundError, PermissionError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                found.add(os.readlink(fd))
    return found


def my_ports_to(port: int) -> set[int]:
    """The local ports of this process's connections to `port`."""
    mine = _sockets_of("self")
    return {local for local, remote, inode in _tcp() if remote == port and inode in mine}


def server_of(client_port: int, server_port: int, pids: list[int]) -> int | None:
    """Which of pids holds the server end of the connection from client_port."""
    pair = (server_port, client_port)
    ends = {inode for local, remote, inode in _tcp() if (local, remote) == pair}
    return next((pid for pid in pids if ends & _sockets_of(pid)), None)


async def channels_on_one(
    address: str, pids: list[int], wanted: int
) -> tuple[int, list[grpc.aio.Channel]]:
    """Opens channels to address until `wanted` of them landed on one of pids; closes the
    others; returns that process and its channels."""
    port = int(address.rsplit(":", 1)[1])
    landed: dict[int | None, list[grpc.aio.Channel]] = {}
    for _ in range(wanted * len(pids) * 4):
        before = my_ports_to(port)
        channel = grpc.aio.insecure_channel(address, options=OWN_CONNECTION)
        await channel.channel_ready()
        new = my_ports_to(port) - before
        pid = server_of(new.pop(), port, pids) if len(new) == 1 else None
        landed.setdefault(pid, []).append(channel)
        if pid is not None and len(landed[pid]) == wanted:
            for other, channels in landed.items():
                if other != pid:
                    for spare in channels:
                        await spare.close()
            return pid, landed[pid]
    raise RuntimeError(f"{wanted} channels never landed on one of {pids}: {landed.keys()}")
