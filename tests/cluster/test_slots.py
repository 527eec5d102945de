"""Every Lua script on the Redis Cluster: each key a script writes, declared in KEYS or built
inside it from the hash-tagged prefix it was given, lands in its event's slot on the node that
serves that slot. (Redis does not refuse a script that writes a key of another slot the same
node serves, so the suite checks what the scripts left behind.)"""

import time
import uuid

import pytest
from redis.asyncio import Redis, RedisCluster
from redis.crc import key_slot

from checkout.models import EventSettings, Holder
from checkout.repository import CheckoutRepository
from common.tokens.ids import new_session_token as new_token
from stats.models import Change, ChangeKind
from stats.repository import StatsRepository
from tests.cluster.nodes import cluster_client, forget_event, nodes
from waitroom.line_store import LineRepository
from waitroom.models import EventAction, EventChange, EventConfig, EventState, Status
from waitroom.repository import WaitroomRepository
from waitroom.watch_store import WatchRepository

pytestmark = pytest.mark.cluster
# the only keys without an event: each service's set of its events
GLOBAL_KEYS = {"waitroom:events", "waitroom:audit", "checkout:events", "stats:events"}
PEOPLE = 300
TTL = 3 * 86_400  # seconds: the scripts are told a day has passed since the first joins


@pytest.fixture
async def cluster():
    client = await cluster_client()
    yield client
    await client.aclose()


async def waitroom_sale(redis: RedisCluster, event: str, now: int) -> list[str]:
    """Every waitroom script once or more: returns the tokens admitted. The event opens in a
    day by the clock, so the cluster stack's own processors leave it alone; the scripts are
    told it is past the opening (`opened`) instead."""
    repo = WaitroomRepository(redis)
    opens = now + 86_400_000
    opened = opens + 1000
    await repo.create_event(EventConfig(event, 50, 50, 60, opens, 10, EventState.OPEN), now)
    joined = [  # before the opening: the lottery
        await repo.join(event, f"user-{n}", new_token(), now, TTL, n / PEOPLE)
        for n in range(PEOPLE)
    ]
    late = [await repo.join(event, f"late-{n}", new_token(), opened, TTL, 0.5) for n in range(100)]
    await repo.update_event(event, EventChange(max_concurrent=50), opened)
    await repo.update_event(event, EventChange(action=EventAction.PAUSE), opened)
    await repo.update_event(event, EventChange(action=EventAction.RESUME), opened)
    for outcome in joined[:10] + late[:10]:
        assert await repo.session(event, outcome.token, opened, TTL) is not None
        await repo.leave(event, outcome.token, opened, TTL)
    result = await repo.admit(event, f"step-{uuid.uuid4().hex}", opened, TTL)
    assert result.admitted == 50
    await watch_reads(redis, repo, event, [o.token for o in late[10:]], opened)
    admitted = [
        o.token
        for o in joined + late
        if (record := await repo.session(event, o.token, opened, TTL))
        and record.status == Status.ADMITTED
    ]
    assert len(admitted) == 50
    for token in admitted[:5]:
        await repo.finish(event, token, Status.COMPLETED, uuid.uuid4().hex, opened)
    # a later step reaps the holds past their deadline, and admits the next ones
    await repo.admit(event, f"step-{uuid.uuid4().hex}", opened + 120_000, TTL)
    await repo.sold_out(event)
    return admitted


async def watch_reads(
    redis: RedisCluster, repo: WaitroomRepository, event: str, waiting: list[str], now: int
) -> None:
    """The watchers' scripts: a pulse with the leaves, presence in a batch, a read untouched;
    and the line views': the line in full, polls' presence in a batch."""
    watch = WatchRepository(redis, repo.batch)
    pulse = await watch.pulse(event, 0, now)
    assert pulse is not None
    assert (pulse.popped, len(pulse.leaves)) == (50, 20)
    assert await watch.touch(event, waiting, now + 5_000) == len(waiting)
    assert await repo.session(event, waiting[0], now, TTL, touch=False) is not None
    lines = LineRepository(redis, repo.batch, TTL)
    line = await lines.line(event, 0, 1000, True, now)
    assert line is not None
    assert line.counts is not None
    listed = sum(len(places) for places in line.frontier.values())
    assert listed == line.waiting if line.frontier_end < 0 else listed >= 1000
    assert await lines.seen(event, dict.fromkeys(waiting, now // 1000 + 5)) == []


async def checkout_sale(redis: RedisCluster, event: str, tokens: list[str], now: int) -> None:
    """Every checkout script: configure, hold, purchase, cancel, and a sweep of the expired."""
    repo = CheckoutRepository(redis)
    await repo.configure(EventSettings(event, 12, 1), uuid.uuid4().hex, 2, now)
    holders = [Holder(event, token, f"buyer-{n}", now + 60_000) for n, token in enumerate(tokens)]
    for holder in holders[:10]:  # 12 tickets, 2 per hold: the last four wait for tickets
        await repo.hold(holder, 2, now)
    await repo.purchase(holders[0], 2, "pay-0", "order-0", now)
    await repo.cancel(holders[1], now)  # its tickets go to a waiting hold
    await repo.hold(Holder(event, tokens[10], "late", now - 1), 2, now)
    assert await repo.sweep(event, now + 120_000) > 0


async def stats_sale(redis: RedisCluster, event: str, tokens: list[str], now: int) -> None:
    repo = StatsRepository(redis)
    changes = [Change(ChangeKind.UPDATED, event, value=1, tickets=12, at_ms=now)]
    for n, token in enumerate(tokens[:6]):
        session = f"{event}~{token}"
        changes.append(Change(ChangeKind.JOINED, event, session, f"u{n}", now))
        changes.append(Change(ChangeKind.READY, event, session, f"u{n}", now + 10))
    kinds = (ChangeKind.COMPLETED, ChangeKind.EXPIRED, ChangeKind.CANCELLED, ChangeKind.LEFT)
    for kind, token in zip(kinds, tokens, strict=False):
        changes.append(Change(kind, event, f"{event}~{token}", "u", now + 20, value=1))
    changes.append(Change(ChangeKind.SOLD_OUT, event, at_ms=now + 30))
    await repo.apply(changes)


async def keys_by_node(cluster: RedisCluster) -> dict[int, list[str]]:
    found = {}
    for node in await nodes(cluster):
        if node.primary:
            direct = Redis(port=node.port, decode_responses=True)
            found[node.port] = [k async for k in direct.scan_iter(count=1000)]
            await direct.aclose()
    return found


async def test_every_key_of_every_script_lands_in_its_events_slot_on_its_node(cluster):
    # checkout's and stats' scripts on an event of their own: the stack's checkout and stats,
    # which hear of the waitroom's event over Kafka, keep away from it
    event, bought, now = f"cl-{uuid.uuid4().hex[:10]}", f"co-{uuid.uuid4().hex[:10]}", _now()
    admitted = await waitroom_sale(cluster, event, now)
    await checkout_sale(cluster, bought, admitted, now)
    await stats_sale(cluster, bought, admitted, now)

    serving = {n.port: n.slots for n in await nodes(cluster) if n.primary}
    ours: list[str] = []
    for port, keys in (await keys_by_node(cluster)).items():
        for k in keys:
            assert key_slot(k.encode()) in serving[port], f"{k} is on {port}, not its slot's node"
            assert k in GLOBAL_KEYS or "{" in k, f"{k} has no hash tag"
            for e in (event, bought):
                if e in k:
                    assert f"{{{e}}}" in k, k
                    assert key_slot(k.encode()) == key_slot(e.encode()), k
                    ours.append(k)
    # what the scripts built inside from the prefix, not only what they were given
    kinds = {
        k.split("}:", 1)[0].split(":")[0] + ":" + k.split("}:", 1)[1].split(":")[0] for k in ours
    }
    for built in (
        "waitroom:line",
        "waitroom:wait",
        "waitroom:users",
        "waitroom:counts",
        "waitroom:blocks",
        "waitroom:session",
        "checkout:hold",
        "stats:session",
    ):
        assert built in kinds, (built, sorted(kinds))
    await forget_event(cluster, event)
    await forget_event(cluster, bought)


def _now() -> int:
    return int(time.time() * 1000)
