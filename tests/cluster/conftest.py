"""The cluster stack (`make cluster-up`) as the cluster suite's sale and drill tests see it."""

import asyncio
import json
import subprocess
import time
import uuid
from pathlib import Path

import grpc
import pytest

from drills import cluster
from drills.observe import ADMIN
from waitroomapi.checkout.v1 import checkout_pb2_grpc
from waitroomapi.stats.v1 import stats_pb2_grpc
from waitroomapi.waitroom.v1 import waitroom_pb2 as pb
from waitroomapi.waitroom.v1 import waitroom_pb2_grpc

ROOT = Path(__file__).resolve().parents[2]


def stack_status() -> dict:
    done = subprocess.run(
        [str(ROOT / "scripts/cluster.sh"), "status", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return json.loads(done.stdout) if done.stdout.strip() else {}


@pytest.fixture(scope="session")
def cluster_stack() -> dict:
    """Every node, broker and service of the cluster stack answers, or the run fails."""
    status: dict = {}
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = stack_status()
        services = status.get("services", [])
        if services and all(s["health"] == "SERVING" for s in services):
            return status
        time.sleep(2)
    pytest.fail(f"the cluster stack is not serving (run `make cluster-up`): {status}")


class Stack:
    """gRPC stubs of the cluster stack: both waitroom replicas, checkout, stats."""

    def __init__(self) -> None:
        self.channels = [
            grpc.aio.insecure_channel(a)
            for a in (*cluster.WAITROOMS, cluster.CHECKOUT, cluster.STATS)
        ]
        self.queues = [waitroom_pb2_grpc.WaitroomServiceStub(c) for c in self.channels[:2]]
        self.admin = waitroom_pb2_grpc.AdminServiceStub(self.channels[0])
        self.checkout = checkout_pb2_grpc.CheckoutServiceStub(self.channels[2])
        self.stats = stats_pb2_grpc.StatsServiceStub(self.channels[3])

    async def create_event(self, event_id: str, **settings: int) -> pb.Event:
        request = pb.CreateEventRequest(event_id=event_id, **settings)
        return await self.admin.CreateEvent(request, metadata=ADMIN, timeout=30)

    async def status_until(
        self, session_id: str, wanted: set[int], within: float = 60, replica: int = 0
    ):
        """The session's status once it is one of `wanted` (polled, as a waiting page does)."""
        request = pb.GetQueueStatusRequest(session_id=session_id)
        deadline = time.monotonic() + within
        while True:
            reply = await self.queues[replica].GetQueueStatus(request, timeout=10)
            if reply.status in wanted or time.monotonic() > deadline:
                return reply
            await asyncio.sleep(0.2)

    async def close(self) -> None:
        for channel in self.channels:
            await channel.close()


@pytest.fixture
async def stack(cluster_stack):
    opened = Stack()
    yield opened
    await opened.close()


@pytest.fixture
def event_id() -> str:
    return f"cl-{uuid.uuid4().hex[:10]}"
