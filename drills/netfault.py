"""A network fault between one waitroom replica and the servers: waitroom-2 moved into a network
namespace of its own (ip netns), reaching Redis and Kafka only through drills/netbridge.py, whose
host half cuts the links (a partition) and then slows them (delay with stalls), then heals."""

import asyncio
import contextlib
import os
import sys

from drills import cluster
from drills.run import Context

NAMESPACE = "wr-drill"
FOLDER = cluster.ROOT / "var/run/cluster/netbridge"


class NetworkFault:
    """waitroom-2's links to Redis and Kafka cut for 10 s, then slowed (150 ms, 10% stalls) 15 s"""

    def __init__(self) -> None:
        self.bridges: list[asyncio.subprocess.Process] = []

    async def __call__(self, ctx: Context) -> None:
        await self._move_in(ctx)
        await self._set(ctx, "partition", 10)
        await asyncio.sleep(5)
        await self._set(ctx, "slow 150 0.1", 15)

    async def _set(self, ctx: Context, fault: str, seconds: float) -> None:
        (FOLDER / "fault").write_text(fault)
        ctx.note(f"waitroom-2's links: {fault}")
        await asyncio.sleep(seconds)
        (FOLDER / "fault").write_text("none")
        ctx.note("waitroom-2's links healed")

    async def _move_in(self, ctx: Context) -> None:
        await cluster.arun("scripts/stack.sh", "stop", "waitroom-2")
        await cluster.arun("ip", "netns", "add", NAMESPACE, check=False)
        await cluster.arun("ip", "netns", "exec", NAMESPACE, "ip", "link", "set", "lo", "up")
        (FOLDER / "fault").parent.mkdir(parents=True, exist_ok=True)
        (FOLDER / "fault").write_text("none")
        for side in ("outside", "inside"):
            wrap = ["ip", "netns", "exec", NAMESPACE] if side == "inside" else []
            bridge = await asyncio.create_subprocess_exec(
                *wrap,
                sys.executable,
                "-m",
                "drills.netbridge",
                side,
                str(FOLDER),
                cwd=cluster.ROOT,
                stdout=asyncio.subprocess.PIPE,
            )
            assert bridge.stdout is not None
            await asyncio.wait_for(bridge.stdout.readline(), 30)
            self.bridges.append(bridge)
        os.environ["STACK_WRAP"] = f"ip netns exec {NAMESPACE}"
        try:
            await cluster.restart_service("waitroom-2")
        finally:
            del os.environ["STACK_WRAP"]
        ctx.note("waitroom-2 restarted inside its own network namespace")

    async def cleanup(self) -> None:
        """waitroom-2 back on the host's network, the bridges and the namespace gone."""
        await cluster.arun("scripts/stack.sh", "stop", "waitroom-2", check=False)
        for bridge in self.bridges:
            with contextlib.suppress(ProcessLookupError):
                bridge.kill()
            await bridge.wait()
        self.bridges.clear()
        await cluster.arun("ip", "netns", "del", NAMESPACE, check=False)
        await cluster.restart_service("waitroom-2")
