"""Script calls gathered into pipelines, on the real Redis: each caller gets its own reply."""

import asyncio

import pytest
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from common.redis.batch import ScriptBatcher
from tests.integration.conftest import CLUSTER

ECHO = "if ARGV[1] == 'boom' then return redis.error_reply('boom') end return ARGV[1] .. KEYS[1]"


async def test_concurrent_calls_share_pipelines_and_each_gets_its_own_reply(redis, event_id):
    script = redis.register_script(ECHO)
    batcher = ScriptBatcher(redis, max_batch=64)
    key = f"waitroom:{{{event_id}}}:batch"
    calls = [batcher.call(script, [key], [str(n)]) for n in range(300)]
    calls.append(batcher.call(script, [key], ["boom"]))
    replies = await asyncio.gather(*calls, return_exceptions=True)
    assert replies[:300] == [f"{n}{key}" for n in range(300)]
    assert isinstance(replies[300], ResponseError)


async def test_a_script_redis_forgot_is_loaded_again(redis, event_id):
    script = redis.register_script(ECHO + " -- " + event_id)  # a sha this Redis never saw
    batcher = ScriptBatcher(redis)
    assert await batcher.call(script, ["k"], ["v"]) == "vk"
    with pytest.raises(ResponseError):
        await batcher.call(script, ["k"], ["boom"])


async def test_calls_made_while_a_pipeline_is_out_go_together_in_the_next(redis, event_id):
    script = redis.register_script(ECHO)
    batcher = ScriptBatcher(redis, max_in_flight=1)
    sizes: list[int] = []
    send = batcher._send

    async def counted(calls):
        sizes.append(len(calls))
        await send(calls)

    batcher._send = counted  # type: ignore[method-assign]
    key = f"waitroom:{{{event_id}}}:batch"

    async def one_per_turn(n: int) -> str:
        for _ in range(n + 1):  # like gRPC: each request starts in a turn of its own
            await asyncio.sleep(0)
        return await batcher.call(script, [key], [str(n)])

    first = asyncio.create_task(batcher.call(script, [key], ["first"]))
    await asyncio.sleep(0)  # the first call's pipeline is on its way out
    later = [asyncio.create_task(one_per_turn(n)) for n in range(20)]
    assert await first == f"first{key}"
    assert await asyncio.gather(*later) == [f"{n}{key}" for n in range(20)]
    assert sizes[0] == 1
    assert sum(sizes) == 21
    assert len(sizes) < 21  # the 20 made while one was out did not go one by one


@pytest.mark.skipif(CLUSTER, reason="one Redis's kept connections (tests/cluster kill a node)")
async def test_a_killed_connection_is_retried_on_a_new_one_and_every_caller_gets_its_reply(
    redis, event_id
):
    script = redis.register_script(ECHO)
    batcher = ScriptBatcher(redis)
    key = f"waitroom:{{{event_id}}}:batch"
    assert await batcher.call(script, [key], ["before"]) == f"before{key}"
    (connection,) = batcher._link._idle  # type: ignore[attr-defined]  # the one it keeps
    await connection.send_command("CLIENT", "ID")
    client_id = await connection.read_response()
    assert await redis.client_kill_filter(_id=client_id) == 1
    # the batch in flight meets the dead connection, and goes again on a new one
    replies = await asyncio.gather(*(batcher.call(script, [key], [str(n)]) for n in range(5)))
    assert replies == [f"{n}{key}" for n in range(5)]
    assert batcher.retries == 5
    assert batcher._link._idle == [connection]  # type: ignore[attr-defined]  # connected anew
    await connection.send_command("CLIENT", "ID")
    assert await connection.read_response() != client_id


async def test_callers_get_the_error_once_redis_stays_away_past_the_retry_time(unused_tcp_port):
    nowhere = Redis(port=unused_tcp_port, retry=Retry(NoBackoff(), 0), socket_connect_timeout=1)
    script = nowhere.register_script(ECHO)
    batcher = ScriptBatcher(nowhere, retry_for=0.5)
    calls = [batcher.call(script, ["k"], [str(n)]) for n in range(3)]
    try:
        replies = await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), 30)
    finally:
        await nowhere.aclose()
    assert all(isinstance(reply, RedisConnectionError) for reply in replies), replies
    assert batcher.retries >= 3  # each was tried again before giving up


async def test_a_call_whose_caller_went_away_before_it_was_sent_never_reaches_redis(
    redis, event_id
):
    script = redis.register_script("return redis.call('INCR', KEYS[1])")
    batcher = ScriptBatcher(redis, max_in_flight=1)
    key = f"waitroom:{{{event_id}}}:sent"
    first = asyncio.create_task(batcher.call(script, [key], []))
    await asyncio.sleep(0)  # the first call's batch is on its way out
    gone = [asyncio.create_task(batcher.call(script, [key], [])) for _ in range(5)]
    await asyncio.sleep(0)  # they wait for the next batch
    for task in gone:
        task.cancel()
    kept = await batcher.call(script, [key], [])
    assert await first == 1
    assert kept == 2  # the five cancelled never ran
    assert int(await redis.get(key)) == 2
    await redis.delete(key)
