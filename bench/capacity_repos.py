"""The services' own repositories around the capacity bench: they make the event, and they
read back what the bench's calls wrote, which holds only if the keys were theirs."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.asyncio import Redis

from bench.capacity_calls import Person
from bench.capacity_phases import check, now_ms
from bench.capacity_sale import BOUGHT, PER_HOLD, SESSION_TTL_S, Shape
from bench.capacity_server import HOST, PORT
from checkout.models import EventSettings, Holder, HoldStatus
from checkout.repository import CheckoutRepository
from stats.repository import StatsRepository
from waitroom.models import EventConfig, EventState, Status
from waitroom.repository import WaitroomRepository

T = TypeVar("T")


def with_redis(work: Callable[[Redis], Awaitable[T]]) -> T:
    async def run() -> T:
        client = Redis(host=HOST, port=PORT, decode_responses=True)
        try:
            return await work(client)
        finally:
            await client.aclose()

    return asyncio.run(run())


def create_event(event_id: str, shape: Shape) -> None:
    """Open since a second ago, with enough tickets that no one waits for one."""
    tickets = PER_HOLD * shape.people

    async def create(client: Redis) -> None:
        now = now_ms()
        config = EventConfig(
            event_id,
            shape.max_concurrent,
            shape.batch_size,
            shape.checkout_ttl_s,
            now - 1000,
            tickets,
            EventState.OPEN,
        )
        await WaitroomRepository(client).create_event(config, now)
        settings = EventSettings(event_id, tickets, 1)
        await CheckoutRepository(client).configure(settings, "bench-config", PER_HOLD, now)

    with_redis(create)


def check_line(event_id: str, line: list[Person]) -> None:
    """The waitroom's repository finds a few people where the bench put them in line."""
    picked = sorted({0, len(line) // 2, len(line) - 1})

    async def read(client: Redis) -> None:
        repo = WaitroomRepository(client)
        for index in picked:
            record = await repo.session(event_id, line[index].token, now_ms(), SESSION_TTL_S)
            check(record is not None, "repository: a person in line is unknown")
            assert record is not None
            check(record.status is Status.QUEUED, f"repository: {record.status}")
            check(record.rank == index, f"repository: rank {record.rank}, expected {index}")

    with_redis(read)


def check_end(event_id: str, people: int, buyers: list[Person]) -> None:
    """Every repository sees the end of the sale: sessions completed, holds bought, figures."""
    buyer = buyers[len(buyers) // 2]

    async def read(client: Redis) -> None:
        now = now_ms()
        record = await WaitroomRepository(client).session(event_id, buyer.token, now, SESSION_TTL_S)
        check(record is not None and record.status is Status.COMPLETED, "repository: session")
        holder = Holder(event_id, buyer.token, buyer.user_id, now + 600_000)
        hold = await CheckoutRepository(client).hold(holder, PER_HOLD, now)
        check(hold.status is HoldStatus.COMPLETED, f"repository: hold {hold.status}")
        figures = await StatsRepository(client).figures(event_id, now)
        check(figures.counts.joined == people, f"repository: {figures.counts.joined} joined")
        check(
            figures.tickets_sold == BOUGHT * len(buyers), f"repository: {figures.tickets_sold} sold"
        )

    with_redis(read)
