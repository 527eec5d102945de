"""Proof that the bench sends what production sends: each repository method is called once
on a probe event under MONITOR, and its EVALSHA must equal the bench's call, word for word."""

import threading
from collections.abc import Awaitable, Callable

import redis
from redis.asyncio import Redis

from bench import capacity_calls as calls
from bench.capacity_calls import Call, Person
from bench.capacity_phases import check, now_ms
from bench.capacity_repos import with_redis
from bench.capacity_sale import BOUGHT, PER_HOLD, SESSION_TTL_S
from checkout.models import Holder
from checkout.repository import CheckoutRepository
from stats.models import Change, ChangeKind
from stats.repository import StatsRepository
from waitroom.models import Status
from waitroom.repository import WaitroomRepository

DONE = "capacity-monitor-done"
LOTTERY = 0.25


def monitored(client: redis.Redis, work: Callable[[], None]) -> list[list[str]]:
    """The EVALSHA commands Redis ran while `work` ran, split into their words."""
    seen: list[list[str]] = []
    started = threading.Event()

    def watch() -> None:
        with client.monitor() as monitor:  # type: ignore[no-untyped-call]
            started.set()
            while DONE not in (command := monitor.next_command()["command"]):
                if command.startswith("EVALSHA "):
                    seen.append(command.split(" "))

    watcher = threading.Thread(target=watch)
    watcher.start()
    started.wait(5)
    try:
        work()
    finally:
        client.echo(DONE)
        watcher.join(10)
    return seen


def production_calls(e: str, p: Person, t: int) -> Callable[[Redis], Awaitable[None]]:
    """Every measured script once, through its repository, in the order of a sale."""
    holder = Holder(e, p.token, p.user_id, t + 600_000)

    async def run(client: Redis) -> None:
        room, shop = WaitroomRepository(client), CheckoutRepository(client)
        await room.join(e, p.user_id, p.token, t, SESSION_TTL_S, LOTTERY)
        await room.session(e, p.token, t, SESSION_TTL_S)
        await room.leave(e, p.token, t, SESSION_TTL_S)
        await room.admit(e, "probe.0", t, SESSION_TTL_S, 0, 1000)
        await room.finish(e, p.token, Status.COMPLETED, "probe-done", t)
        await shop.hold_once(holder, PER_HOLD, t, "probe-ready")
        await shop.purchase(holder, BOUGHT, "pay-probe-order", "probe-order", t)
        change = Change(ChangeKind.COMPLETED, e, holder.session_id, p.user_id, t, BOUGHT)
        await StatsRepository(client).apply([change])

    return run


def bench_calls(e: str, p: Person, t: int) -> list[Call]:
    s = calls.scripts(Redis())
    return [
        calls.join(s["join"], e, p, t, SESSION_TTL_S, LOTTERY),
        calls.status(s["status"], e, p, t, SESSION_TTL_S),
        calls.leave(s["leave"], e, p, t, SESSION_TTL_S),
        calls.admit(s["admit"], e, "probe.0", t, SESSION_TTL_S, 1000),
        calls.finish(s["finish"], e, p, "probe-done", t),
        calls.hold(s["hold"], e, p, t + 600_000, PER_HOLD, t, "probe-ready"),
        calls.purchase(s["purchase"], e, p, BOUGHT, "probe-order", t),
        calls.apply(s["apply"], e, [("completed", p, t, BOUGHT)]),
    ]


def check_same_calls(client: redis.Redis, event_id: str) -> None:
    """Raises unless every repository sent exactly the bench's call for the same inputs."""
    for script in calls.scripts(Redis()).values():  # loaded, as a serving process's ping does
        client.script_load(script.script)
    person, t = Person("probe-user", "AbCdEfGhIjKlMnOpQrStUv"), now_ms()
    sent = monitored(client, lambda: with_redis(production_calls(event_id, person, t)))
    expected = [["EVALSHA", *(str(a) for a in call)] for call in bench_calls(event_id, person, t)]
    check(len(sent) == len(expected), f"same calls: {len(sent)} EVALSHA seen, not 8")
    for mine, theirs in zip(expected, sent, strict=True):
        check(mine == theirs, f"same calls: the bench sends {mine}, production {theirs}")
