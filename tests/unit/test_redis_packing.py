"""Script calls are packed by hiredis into exactly the bytes redis-py would send."""

import uuid

import pytest
from redis.asyncio.connection import Connection
from redis.exceptions import DataError

from common.redis.links import packed

ARGS = ["", "a", "ü and 😀", b"raw\x00\r\n", 0, -1, 2**63 - 1, 0.1 + 0.2, 1 / 3, 1e-7, -0.0, 5e300]


def reference(commands: list[tuple[object, ...]]) -> bytes:
    return b"".join(Connection().pack_commands(commands))


def test_script_calls_are_the_bytes_redis_py_packs():
    keys = [f"stats:{{ev-1}}:session:ev-1~{uuid.uuid4().hex}" for _ in range(110)]
    commands = [
        ("EVALSHA", "0" * 40, len(keys), *keys, *(ARGS * 30)),
        ("EVALSHA", "1" * 40, 0),
        ("EVALSHA", "2" * 40, 1, "k", *ARGS),
    ]
    assert b"".join(packed(Connection(), commands)) == reference(commands)


@pytest.mark.parametrize("wrong", [None, True, object()])
def test_an_argument_redis_cannot_take_is_refused_as_redis_py_refuses_it(wrong: object):
    with pytest.raises(DataError):
        packed(Connection(), [("EVALSHA", "0" * 40, 1, "k", wrong)])
