"""The only checkout module that talks to Redis: settings, inventory, holds and the outbox."""

from importlib import resources
from typing import Any

from redis.asyncio import Redis

from checkout.models import EventSettings, Hold, HoldStatus, Order
from common.ids import make_session_id
from common.redis_batch import ScriptBatcher

EVENTS_KEY = "checkout:events"
SEEN_TTL_SECONDS = 7 * 24 * 3600


def key(event_id: str, suffix: str) -> str:
    """Every key of an event carries its id as a hash tag: one cluster slot per event."""
    return f"checkout:{{{event_id}}}:{suffix}"


def _script(redis: Redis, name: str) -> Any:
    lua = resources.files("checkout").joinpath("lua")
    source = lua.joinpath("lib.lua").read_text() + lua.joinpath(f"{name}.lua").read_text()
    return redis.register_script(source)


class CheckoutRepository:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._configure = _script(redis, "configure")
        self._hold = _script(redis, "hold")
        self._purchase = _script(redis, "purchase")
        self._cancel = _script(redis, "cancel")
        self._sweep = _script(redis, "sweep")
        # holds made by concurrent handlers (a fetched batch of QUEUE_READY) share pipelines
        self._batch = ScriptBatcher(redis)

    async def ping(self) -> bool:
        return bool(await self._redis.ping())

    async def event_ids(self) -> list[str]:
        return sorted(str(e) for e in await self._redis.smembers(EVENTS_KEY))

    async def configure(
        self, settings: EventSettings, message_id: str, per_hold: int, now_ms: int
    ) -> str:
        e = settings.event_id
        await self._redis.sadd(EVENTS_KEY, e)
        keys = [key(e, "config"), key(e, "outbox"), key(e, f"seen:{message_id}"), key(e, "waiting")]
        args = [
            settings.version,
            settings.tickets,
            settings.checkout_ttl_seconds,
            settings.state,
            SEEN_TTL_SECONDS,
            per_hold,
            key(e, "hold:"),
            now_ms,
        ]
        return str(await self._configure(keys=keys, args=args))

    async def hold(
        self,
        event_id: str,
        token: str,
        user_id: str,
        expires_at_ms: int,
        per_hold: int,
        now_ms: int,
        message_id: str = "",
    ) -> tuple[str, Hold | None]:
        """('created'|'existing', hold), or ('duplicate'|'unknown_event', None)."""
        session_id = make_session_id(event_id, token)
        keys = [
            *_hold_keys(event_id, token)[:4],
            key(event_id, f"seen:{message_id or '-'}"),
            key(event_id, "waiting"),
        ]
        args = [
            token,
            user_id,
            expires_at_ms,
            per_hold,
            now_ms,
            SEEN_TTL_SECONDS,
            session_id,
            "1" if message_id else "0",
        ]
        reply = await self._batch.call(self._hold, keys, args)
        if reply[0] not in ("created", "existing"):
            return str(reply[0]), None
        _, status, quantity, expires, order_id = reply
        hold = Hold(
            session_id, event_id, HoldStatus(status), int(quantity), int(expires), str(order_id)
        )
        return str(reply[0]), hold

    async def purchase(
        self,
        event_id: str,
        token: str,
        quantity: int,
        payment_reference: str,
        order_id: str,
        now_ms: int,
    ) -> Order | str:
        args = [
            token,
            quantity,
            payment_reference,
            order_id,
            now_ms,
            make_session_id(event_id, token),
            key(event_id, "hold:"),
            make_session_id(event_id, ""),
        ]
        reply = await self._purchase(keys=_hold_keys(event_id, token), args=args)
        if reply[0] == "ok":
            return Order(str(reply[1]), int(reply[2]))
        return str(reply[0])

    async def cancel(self, event_id: str, token: str, now_ms: int) -> str:
        args = [token, now_ms, make_session_id(event_id, token), key(event_id, "hold:")]
        return str(await self._cancel(keys=_hold_keys(event_id, token), args=args))

    async def sweep(self, event_id: str, now_ms: int, limit: int = 500) -> int:
        keys = [key(event_id, s) for s in ("config", "holds", "outbox", "waiting")]
        args = [now_ms, key(event_id, "hold:"), make_session_id(event_id, ""), limit]
        return int(await self._batch.call(self._sweep, keys, args))

    async def inventory(self, event_id: str) -> dict[str, int]:
        raw = await self._redis.hgetall(key(event_id, "config"))
        return {name: int(raw.get(name, 0)) for name in ("total", "available", "sold", "sold_out")}

    async def holding(self, event_id: str) -> int:
        return int(await self._redis.zcard(key(event_id, "holds")))


def _hold_keys(event_id: str, token: str) -> list[str]:
    """config, hold, holds (by deadline), outbox, waiting (holds with no ticket yet)."""
    return [
        key(event_id, "config"),
        key(event_id, f"hold:{token}"),
        key(event_id, "holds"),
        key(event_id, "outbox"),
        key(event_id, "waiting"),
    ]
