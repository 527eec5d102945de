"""Streams under operations, on real serving processes (`python -m waitroom`, one per pod):
SIGTERM ends every open stream at once, UNAVAILABLE with `retry-after-ms`, well within the
grace, and its watchers carry on elsewhere; a rolling deploy (two processes, one replaced after
the other) loses nobody's final status, and every token is the one QUEUE_READY carried."""

import asyncio

import grpc
import pytest

from common.kafka import topics
from common.kafka.messages import from_json
from tests.integration.conftest import create_event
from tests.integration.following import Follower, percentiles
from tests.integration.serving import Serving
from waitroomapi.events.v1 import events_pb2
from waitroomapi.waitroom.v1 import waitroom_pb2 as pb
from waitroomapi.waitroom.v1 import waitroom_pb2_grpc as pb_grpc

pytestmark = pytest.mark.timeout(300)
GRACE = 60.0  # GRPC_GRACE of these processes: the streams must not be what the stop waits for
STILL = {"QUEUE_PROCESSOR_ENABLED": "false"}  # nobody admitted: every place stays as it was


@pytest.fixture
async def serving(tmp_path):
    started: list[Serving] = []

    def make(grpc_port: int, http_port: int, **settings: str) -> Serving:
        started.append(Serving(tmp_path, grpc_port, http_port, **settings))
        return started[-1]

    yield make
    for process in started:
        await process.kill()


async def join_all(channel: grpc.aio.Channel, event_id: str, people: int) -> list[str]:
    stub = pb_grpc.WaitroomServiceStub(channel)
    gate = asyncio.Semaphore(50)

    async def one(n: int) -> str:
        async with gate:
            request = pb.JoinQueueRequest(user_id=f"fan{n}", event_id=event_id)
            return (await stub.JoinQueue(request, timeout=10)).session_id

    return await asyncio.gather(*(one(n) for n in range(people)))


async def test_sigterm_sends_every_watcher_elsewhere_at_once_with_retry_after(serving, event_id):
    people = 1000
    stopping = await serving(52400, 9220, **STILL).start()
    other = await serving(52401, 9221, **STILL).start()
    async with (
        grpc.aio.insecure_channel(stopping.target) as first,
        grpc.aio.insecure_channel(other.target) as second,
    ):
        await create_event(first, event_id)
        sessions = await join_all(first, event_id, people)
        followers = [Follower([first, second], s, seed=n) for n, s in enumerate(sessions)]
        before = await asyncio.gather(*(f.heard() for f in followers))
        stopping.terminate()
        code, seconds = await stopping.exited(within=GRACE)
        again = await asyncio.gather(*(f.reconnected() for f in followers))
        print(f"SIGTERM to exit {seconds:.1f} s (grace {GRACE:.0f} s), {people} streams")
        print("SIGTERM to the first status elsewhere:", percentiles(reconnects(followers)))
        for f in followers:
            f.cancel()
    assert code == 0
    assert seconds < GRACE  # the streams ended at once: the stop never waited out its grace
    assert all(f.codes == {"UNAVAILABLE": 1} for f in followers)  # each told once
    assert all(f.advised[0] and f.advised[0] > 0 for f in followers)  # with retry-after-ms
    assert all(f.messages[-1][0] == 1 for f in followers)  # every one now on the other
    places = [m.status.position for m in again]
    assert places == [m.status.position for m in before]  # each in its place
    assert sorted(places) == list(range(1, people + 1))


def reconnects(followers: list[Follower]) -> list[float]:
    return [f.reconnected_at[0] - f.broken_at[0] for f in followers if f.reconnected_at]


def tokens_ready(records, event_id: str) -> dict[str, str]:
    found = {}
    for record in records:
        ready = from_json(record.value, events_pb2.QueueReady())
        if ready.event_id == event_id:
            found[ready.session_id] = ready.checkout_token
    return found


async def rolling_deploy(first: Serving, second: Serving) -> list[float]:
    """Each process in turn: SIGTERM, its exit, a new one on its port SERVING; the seconds
    from each SIGTERM to its exit."""
    took = []
    for process in (first, second):
        await asyncio.sleep(1.0)  # the sale goes on between the steps
        process.terminate()
        code, seconds = await process.exited(within=GRACE)
        assert code == 0
        took.append(seconds)
        await process.start()
    return took


async def test_a_rolling_deploy_loses_no_watchers_final_status(serving, event_id, kafka_tail):
    people = 400
    # admitting slowly (2 a step, 5 steps a second): the sale lasts through both replacements
    first = await serving(52402, 9222, QUEUE_PROCESS_INTERVAL="200ms").start()
    second = await serving(52403, 9223, QUEUE_PROCESS_INTERVAL="200ms").start()
    ready = await kafka_tail(topics.QUEUE_READY)
    async with (
        grpc.aio.insecure_channel(first.target) as one,
        grpc.aio.insecure_channel(second.target) as two,
    ):
        await create_event(one, event_id, max_concurrent=people, batch_size=2)
        sessions = await join_all(one, event_id, people)
        followers = [
            Follower([one, two] if n % 2 else [two, one], s, seed=n) for n, s in enumerate(sessions)
        ]
        took = await rolling_deploy(first, second)
        await asyncio.gather(*(f.done(within=120) for f in followers))
    records = await ready.collect(lambda r: event_id.encode() in r.value, people, within=60)
    carried = tokens_ready(records, event_id)
    moved = [f for f in followers if f.broken_at]
    print(f"rolling deploy: SIGTERM to exit {[round(s, 1) for s in took]} s; {len(moved)} moved")
    print("a break to the first status elsewhere:", percentiles(reconnects(moved)))
    finals = [f.final.status for f in followers if f.final is not None]
    assert len(finals) == people  # nobody lost their final status
    assert {f.status for f in finals} == {pb.SESSION_STATUS_ADMITTED}
    assert all(f.checkout_token == carried[s] for f, s in zip(finals, sessions, strict=True))
    assert moved  # the deploy did move watchers: some were admitted after both replacements
    assert all(set(f.codes) <= {"UNAVAILABLE"} for f in followers)
