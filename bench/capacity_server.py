"""A redis-server of the capacity bench's own on 127.0.0.1:6391, configured as production's."""

import contextlib
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass

import redis

PORT = 6391
HOST = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class Counters:
    """What INFO says about the server's work so far: script calls, CPU, memory."""

    calls: int
    usec: int
    failed: int
    cpu_s: float  # the redis-server process (every thread), user + sys
    children_cpu_s: float  # forks: AOF rewrites
    used_memory: int


@contextlib.contextmanager
def private_redis() -> Iterator[redis.Redis]:
    """A fresh redis-server (append-only file synced every second, no eviction), then gone."""
    state = tempfile.mkdtemp(prefix="bench-capacity-")
    args = ["redis-server", "--port", str(PORT), "--bind", HOST, "--dir", state, "--save", ""]
    args += ["--appendonly", "yes", "--appendfsync", "everysec"]
    args += ["--maxmemory-policy", "noeviction", "--daemonize", "no", "--logfile", ""]
    server = subprocess.Popen(args, stdout=subprocess.DEVNULL)
    client = redis.Redis(host=HOST, port=PORT, decode_responses=True)
    try:
        _wait_for(client, server)
        yield client
    finally:
        client.close()
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(state, ignore_errors=True)


def _wait_for(client: redis.Redis, server: subprocess.Popen[bytes]) -> None:
    for _ in range(200):
        if server.poll() is not None:
            raise RuntimeError(f"redis-server on {PORT} exited ({server.returncode}): port taken?")
        with contextlib.suppress(redis.ConnectionError):
            client.ping()
            return
        time.sleep(0.05)
    raise RuntimeError(f"redis-server on {PORT} did not answer")


def counters(client: redis.Redis) -> Counters:
    stats = client.info("commandstats").get("cmdstat_evalsha", {})
    cpu = client.info("cpu")
    return Counters(
        calls=int(stats.get("calls", 0)),
        usec=int(stats.get("usec", 0)),
        failed=int(stats.get("failed_calls", 0)) + int(stats.get("rejected_calls", 0)),
        cpu_s=float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"]),
        children_cpu_s=float(cpu["used_cpu_user_children"]) + float(cpu["used_cpu_sys_children"]),
        used_memory=used_memory(client),
    )


def used_memory(client: redis.Redis) -> int:
    client.memory_purge()
    return int(client.info("memory")["used_memory"])


def version(client: redis.Redis) -> str:
    return str(client.info("server")["redis_version"])
