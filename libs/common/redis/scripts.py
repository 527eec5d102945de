"""Lua scripts and the keys they touch: every key of an event under one hash tag."""

from importlib import resources

from redis.commands.core import AsyncScript

from common.redis.client import RedisClient

SHARED = "lib.lua"  # a service's shared Lua functions, prepended to each of its scripts


class KeySpace:
    """A service's keys: `<service>:{<event>}:<suffix>`, one cluster slot per event."""

    def __init__(self, service: str) -> None:
        self._service = service

    def key(self, event_id: str, suffix: str) -> str:
        return f"{self._service}:{{{event_id}}}:{suffix}"

    def prefix(self, event_id: str) -> str:
        """What a script builds an event's other keys from: they land in the same slot."""
        return self.key(event_id, "")


def load_script(redis: RedisClient, package: str, name: str) -> AsyncScript:
    """`<package>/lua/<name>.lua`, after the package's lib.lua when it has one."""
    lua = resources.files(package).joinpath("lua")
    shared = lua.joinpath(SHARED)
    source = shared.read_text() if shared.is_file() else ""
    return redis.register_script(source + lua.joinpath(f"{name}.lua").read_text())
