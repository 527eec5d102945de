"""Script calls gathered into pipelines, on the real Redis: each caller gets its own reply."""

import asyncio

import pytest
from redis.exceptions import ResponseError

from common.redis_batch import ScriptBatcher

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
