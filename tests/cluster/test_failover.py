"""A Redis primary killed under load: its replica takes over, and calls carry on meanwhile.

Joins and status reads keep coming while the primary that serves the event's slot is killed
with SIGKILL. The batched script calls retry with backoff until the replica is promoted, so
no caller sees an error; then everyone joins again, and a join that was acknowledged must
come back with the same session (a lost one would be a person dropped from the line)."""

import asyncio
import os
import signal
import time
import uuid

import pytest
from redis.asyncio import Redis
from redis.crc import key_slot

from common.tokens.ids import new_session_token
from tests.cluster.nodes import cluster_client, forget_event, nodes
from waitroom.models import EventConfig, EventState
from waitroom.repository import WaitroomRepository

pytestmark = pytest.mark.cluster
# brings back the nodes that are down (they rejoin as replicas of what replaced them)
RESTART = os.environ.get("CLUSTER_RESTART", "infra/redis-cluster.sh up")
JOINERS, LOAD_SECONDS = 20, 10.0


@pytest.fixture
async def cluster():
    client = await cluster_client()
    yield client
    await client.aclose()


async def primary_of(cluster, event: str):
    slot = key_slot(event.encode())
    return next(n for n in await nodes(cluster) if n.primary and slot in n.slots)


async def joiner(repo, event: str, worker: int, stop: asyncio.Event, acked: dict, errors: list):
    n = 0
    while not stop.is_set():
        user = f"u{worker}-{n}"
        try:
            outcome = await repo.join(event, user, new_session_token(), _now(), 7200, 0.5)
            acked[user] = outcome.token
            await repo.session(event, outcome.token, _now(), 7200)
        except Exception as error:  # counted: the test fails on any
            errors.append(repr(error))
        n += 1


def _now() -> int:
    return int(time.time() * 1000)


async def healed(cluster, killed_port: int, within: float = 60) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        found = {n.port: n for n in await nodes(cluster)}
        if killed_port in found and sum(n.primary for n in found.values()) == 3:
            return
        await asyncio.sleep(0.5)
    pytest.fail(f"the cluster did not heal within {within} s")


async def load_around(repo, event: str, fault) -> tuple[dict, list, int]:
    """Joins and status reads from JOINERS callers around fault(), then LOAD_SECONDS more."""
    stop, acked, errors = asyncio.Event(), {}, []
    load = [
        asyncio.create_task(joiner(repo, event, w, stop, acked, errors)) for w in range(JOINERS)
    ]
    await asyncio.sleep(1)
    before = len(acked)
    await fault()
    await asyncio.sleep(LOAD_SECONDS)
    stop.set()
    await asyncio.gather(*load)
    return acked, errors, before


async def lost_joins(repo, event: str, acked: dict) -> list[str]:
    """Everyone joins again: an acknowledged join comes back with its own session."""
    lost = []
    for user, token in acked.items():
        if (await repo.join(event, user, new_session_token(), _now(), 7200, 0.5)).token != token:
            lost.append(user)
    return lost


async def test_a_primary_handed_over_to_its_replica_redirects_calls_that_carry_on(cluster):
    """A manual failover (an operator's, or an upgrade's): the old primary answers MOVED."""
    repo, event = WaitroomRepository(cluster), f"mv-{uuid.uuid4().hex[:10]}"
    await repo.create_event(EventConfig(event, 10, 10, 60, 0, 10, EventState.OPEN), _now())
    old = await primary_of(cluster, event)
    replica = next(n for n in await nodes(cluster) if not n.primary and n.replica_of == old.node_id)

    async def hand_over() -> None:
        direct = Redis(port=replica.port, decode_responses=True)
        assert await direct.execute_command("CLUSTER", "FAILOVER") in ("OK", True)
        await direct.aclose()

    acked, errors, before = await load_around(repo, event, hand_over)
    new = await primary_of(cluster, event)
    lost = await lost_joins(repo, event, acked)
    print(
        f"joins acknowledged: {len(acked)} ({len(acked) - before} after the hand-over), "
        f"errors: {len(errors)}, lost: {len(lost)}, primary {old.port} -> {new.port}"
    )
    await forget_event(cluster, event)
    assert new.port == replica.port
    assert len(acked) > before
    assert errors == []
    assert lost == []


async def test_joins_go_on_through_a_killed_primary_and_none_acknowledged_is_lost(cluster):
    repo, event = WaitroomRepository(cluster), f"fo-{uuid.uuid4().hex[:10]}"
    await repo.create_event(EventConfig(event, 10, 10, 60, 0, 10, EventState.OPEN), _now())
    victim = await primary_of(cluster, event)

    async def kill() -> None:
        os.kill(victim.pid, signal.SIGKILL)

    acked, errors, before = await load_around(repo, event, kill)
    promoted = await primary_of(cluster, event)
    restart = await asyncio.create_subprocess_shell(RESTART, stdout=asyncio.subprocess.DEVNULL)
    assert await restart.wait() == 0, RESTART
    await healed(cluster, victim.port)
    lost = await lost_joins(repo, event, acked)
    print(
        f"joins acknowledged: {len(acked)} ({len(acked) - before} after the kill), "
        f"errors: {len(errors)}, lost: {len(lost)}, new primary: {promoted.port}"
    )
    await forget_event(cluster, event)
    assert promoted.port != victim.port
    assert len(acked) > before  # joins went on after the kill
    assert errors == []
    assert lost == []
