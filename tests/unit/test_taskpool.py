import asyncio

from aiokafka import TopicPartition

from common.kafka.offsets import OffsetTracker
from common.kafka.taskpool import Task, TaskPool

FAST = (0.01, 0.02, 0.03)


async def test_a_failing_task_is_retried_then_dead_lettered_with_its_error():
    letters, outcomes, attempts = [], [], []

    async def dead_letter(task, error):
        letters.append((task.name, repr(error)))

    async def always_fails():
        attempts.append(1)
        raise RuntimeError("boom")

    pool = TaskPool(workers=1, capacity=10, retry_delays=FAST, dead_letter=dead_letter)
    pool.start()
    await pool.submit(Task("bad", always_fails, done=outcomes.append))
    await pool.stop(grace=5)
    assert len(attempts) == 4  # the first try and one retry after each delay
    assert letters == [("bad", "RuntimeError('boom')")]
    assert outcomes == [False]
    state = pool.state()
    assert (state.retried, state.failed, state.dead_lettered, state.processed) == (3, 1, 1, 0)


async def test_an_exception_in_one_task_never_stops_a_worker():
    done = []

    async def fails():
        raise ValueError("bad data")

    async def works():
        done.append("ok")

    pool = TaskPool(workers=1, capacity=10, retry_delays=())
    pool.start()
    await pool.submit(Task("bad", fails))
    await pool.submit(Task("good", works))
    await pool.stop(grace=5)
    assert done == ["ok"]
    assert pool.state().processed == 1


async def test_submit_waits_while_the_buffer_is_full():
    release = asyncio.Event()

    async def blocked():
        await release.wait()

    pool = TaskPool(workers=1, capacity=1, retry_delays=())
    pool.start()
    await pool.submit(Task("running", blocked))
    await asyncio.sleep(0.01)
    await pool.submit(Task("queued", blocked))
    assert pool.full()
    waiting = asyncio.create_task(pool.submit(Task("third", blocked)))
    await asyncio.sleep(0.05)
    assert not waiting.done()  # nothing dropped: the caller waits for room
    release.set()
    await asyncio.wait_for(waiting, 1)
    await pool.stop(grace=1)
    assert pool.state().processed == 3


async def test_stop_hands_back_what_did_not_run_within_the_grace():
    async def slow():
        await asyncio.sleep(10)

    pool = TaskPool(workers=1, capacity=5, retry_delays=())
    pool.start()
    for n in range(3):
        await pool.submit(Task(f"t{n}", slow))
    handed_back = await pool.stop(grace=0.05)
    assert [t.name for t in handed_back] == ["t1", "t2"]


def test_offsets_are_committed_only_up_to_the_first_unfinished_record():
    tracker, tp = OffsetTracker(), TopicPartition("QUEUE_READY", 0)
    entries = [tracker.add(tp, offset) for offset in (10, 11, 12, 13)]
    entries[1][1] = entries[2][1] = 1
    assert tracker.committable() == {}  # 10 is still running
    entries[0][1] = 1
    assert tracker.committable() == {tp: 13}
    entries[3][1] = 1
    assert tracker.committable() == {tp: 14}


class Away(Exception):
    pass


async def test_a_transient_failure_is_retried_until_it_passes_never_dead_lettered():
    letters, outcomes, failures = [], [], [5]

    async def dead_letter(task, error):
        letters.append(task.name)

    async def store_away_for_a_while():
        if failures[0]:
            failures[0] -= 1
            raise Away("the store is away")

    pool = TaskPool(1, 10, (0.001,), dead_letter=dead_letter, transient=(Away,))
    pool.start()
    await pool.submit(Task("away", store_away_for_a_while, done=outcomes.append))
    await pool.stop(grace=5)
    assert (letters, outcomes, failures) == ([], [True], [0])
    assert pool.state().dead_lettered == 0


async def test_a_task_whose_dead_lettering_fails_is_tried_again():
    tries, outcomes, refusals = [], [], [2]

    async def dead_letter(task, error):
        if refusals[0]:
            refusals[0] -= 1
            raise RuntimeError("the DLQ refused")

    async def fails_twice():
        tries.append(1)
        if len(tries) <= 2:
            raise ValueError("bad")

    pool = TaskPool(1, 10, (), dead_letter=dead_letter)
    pool.start()
    await pool.submit(Task("bad", fails_twice, done=outcomes.append))
    await pool.stop(grace=5)
    assert len(tries) == 3  # tried again after the DLQ refused, and then it passed
    assert outcomes == [True]
