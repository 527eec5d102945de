"""A reply lost on its way back from Redis: the script ran, the caller never heard, and the
batcher sends it again. Every script is idempotent, so the second run changes nothing more:
the same session, no second admission, no second hold.

A TCP relay between the client and the real Redis swallows one reply and drops the
connection, as a half-dead link or a primary dying right after its write would."""

import asyncio
import contextlib
import time

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from checkout.models import EventSettings, Holder
from checkout.repository import CheckoutRepository
from common.process.settings import CommonSettings
from common.redis.client import connect
from tests.integration.conftest import CLUSTER, REDIS_URL
from waitroom.models import EventConfig, EventState, Status
from waitroom.repository import WaitroomRepository

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(CLUSTER, reason="the relay stands in front of one Redis"),
]


class ReplyEater:
    """Forwards to Redis; while `eat` is set, the next reply is read, thrown away, and both
    connections are closed."""

    def __init__(self, host: str, port: int) -> None:
        self._upstream = host, port
        self.eat = False
        self.eaten = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> int:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def __aexit__(self, *_: object) -> None:
        self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self._upstream)
        for task in (self._pump(reader, up_writer), self._replies(up_reader, writer, up_writer)):
            self._tasks.add(asyncio.create_task(task))

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def _replies(self, reader, writer, up_writer) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                if self.eat:  # the script ran; its caller never hears
                    self.eat, self.eaten = False, self.eaten + 1
                    break
                writer.write(data)
                await writer.drain()
        writer.close()
        up_writer.close()


@pytest.fixture
async def through_eater(redis):
    database = REDIS_URL.rsplit("/", 1)[1]
    eater = ReplyEater("127.0.0.1", redis.connection_pool.connection_kwargs["port"])
    async with eater as port:
        client = connect(CommonSettings(redis_url=f"redis://127.0.0.1:{port}/{database}"))
        yield client, eater
        await client.aclose()


def _now() -> int:
    return int(time.time() * 1000)


async def test_a_join_whose_reply_was_lost_returns_the_same_one_session(through_eater, event_id):
    client, eater = through_eater
    repo = WaitroomRepository(client)
    now = _now()
    await repo.create_event(EventConfig(event_id, 10, 10, 60, now, 0, EventState.OPEN), now)
    eater.eat = True
    outcome = await repo.join(event_id, "ann", "A" * 22, now, 3600, 0.5)
    assert eater.eaten == 1
    assert outcome.token == "A" * 22  # the first run's session, found by the second
    again = await repo.join(event_id, "ann", "B" * 22, now, 3600, 0.5)
    assert again.token == outcome.token
    assert (await repo.get_event(event_id)).queue_length == 1


async def test_an_admission_step_whose_reply_was_lost_admits_nobody_twice(through_eater, event_id):
    client, eater = through_eater
    repo = WaitroomRepository(client)
    now = _now()
    await repo.create_event(EventConfig(event_id, 3, 3, 60, now, 0, EventState.OPEN), now)
    tokens = [f"{n:0>22}" for n in range(6)]
    for n, token in enumerate(tokens):
        await repo.join(event_id, f"u{n}", token, now, 3600, 0.5)
    eater.eat = True
    # an admission step is not retried by the batcher (its time would go stale): it fails,
    # and the processor tries it again with the same step id and a new time
    with pytest.raises(RedisConnectionError):
        await repo.admit(event_id, "step-1", now, 3600)
    assert eater.eaten == 1
    result = await repo.admit(event_id, "step-1", now + 1000, 3600)
    assert result.duplicate_cycle  # the retry found its own step already done
    statuses = [(await repo.session(event_id, t, now, 3600)).status for t in tokens]
    assert statuses.count(Status.ADMITTED) == 3
    assert statuses.count(Status.QUEUED) == 3
    view = await repo.get_event(event_id)
    assert (view.processing_count, view.queue_length) == (3, 3)


@pytest.mark.usefixtures("checkout_keys")
async def test_a_hold_whose_reply_was_lost_sets_its_tickets_aside_once(through_eater, event_id):
    client, eater = through_eater
    repo = CheckoutRepository(client)
    now = _now()
    await repo.configure(EventSettings(event_id, 10, 1), "m-settings", 2, now)
    eater.eat = True
    hold = await repo.hold(Holder(event_id, "H" * 22, "ann", now + 60_000), 2, now)
    assert eater.eaten == 1
    assert hold.quantity == 2
    config = await client.hgetall(f"checkout:{{{event_id}}}:config")
    assert int(config["available"]) == 8  # two set aside, not four
