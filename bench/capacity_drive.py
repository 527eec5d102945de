"""Drives Redis with pipelined EVALSHA batches from several connections, as fast as it answers.

The calls are packed into RESP before the clock starts, and each connection keeps two
batches in flight (it sends the next before it reads the last one's replies), so the client
spends its time in send and recv, which release the GIL, and Redis always has work queued.
"""

import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import hiredis

from bench.capacity_server import HOST, PORT

BATCH = 256  # calls per pipeline: libs/common/redis/batch.py's max_batch
Call = Sequence[str | int]  # EVALSHA's arguments after the command name


@dataclass(frozen=True, slots=True)
class Driven:
    replies: list[Any]
    seconds: float
    errors: int


def pack(command: Sequence[str | int]) -> bytes:
    parts = [b"*%d\r\n" % len(command)]
    for arg in command:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


def batches(calls: Sequence[Call], size: int = BATCH) -> list[tuple[int, bytes]]:
    """(calls in the batch, its EVALSHA commands packed) for every `size` calls."""
    return [
        (len(chunk), b"".join(pack(("EVALSHA", *call)) for call in chunk))
        for chunk in (calls[i : i + size] for i in range(0, len(calls), size))
    ]


def drive(packed: list[tuple[int, bytes]], connections: int) -> Driven:
    """Sends every batch, spread over `connections`; replies come back in the calls' order."""
    shares = [packed[i::connections] for i in range(connections)]
    results: list[list[list[Any]]] = [[] for _ in shares]
    threads = [
        threading.Thread(target=_send_all, args=(share, out))
        for share, out in zip(shares, results, strict=True)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    replies = _interleave(results, len(packed))
    errors = sum(isinstance(r, hiredis.ReplyError) for r in replies)
    return Driven(replies, seconds, errors)


def _send_all(share: list[tuple[int, bytes]], out: list[list[Any]]) -> None:
    if not share:
        return
    reader = hiredis.Reader(encoding="utf-8")
    with socket.create_connection((HOST, PORT)) as conn:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.sendall(share[0][1])
        for i, (count, _) in enumerate(share):
            if i + 1 < len(share):
                conn.sendall(share[i + 1][1])
            out.append(_read(conn, reader, count))


def _read(conn: socket.socket, reader: hiredis.Reader, count: int) -> list[Any]:
    replies: list[Any] = []
    while len(replies) < count:
        reply = reader.gets()
        if reply is False:
            data = conn.recv(1 << 20)
            if not data:
                raise ConnectionError("redis closed the connection")
            reader.feed(data)
        else:
            replies.append(reply)
    return replies


def _interleave(results: list[list[list[Any]]], total: int) -> list[Any]:
    """Batch i went to connection i % n as its (i // n)-th: back in the original order."""
    n = len(results)
    return [reply for i in range(total) for reply in results[i % n][i // n]]
