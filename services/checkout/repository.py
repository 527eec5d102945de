"""The only checkout module that talks to Redis: settings, inventory, holds and the outbox."""

from redis.asyncio import Redis

from checkout.models import EventSettings, Hold, HoldStatus, Order
from common.redis.batch import ScriptBatcher
from common.redis.scripts import KeySpace, load_script
from common.tokens.ids import make_session_id

EVENTS_KEY = "checkout:events"
SEEN_TTL_SECONDS = 7 * 24 * 3600


key = KeySpace("checkout").key


class CheckoutRepository:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._configure = load_script(redis, "checkout", "configure")
        self._hold = load_script(redis, "checkout", "hold")
        self._purchase = load_script(redis, "checkout", "purchase")
        self._cancel = load_script(redis, "checkout", "cancel")
        self._sweep = load_script(redis, "checkout", "sweep")
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
        args: list[str | int] = [
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
        args: list[str | int] = [
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
        args: list[str | int] = [
            token,
            now_ms,
            make_session_id(event_id, token),
            key(event_id, "hold:"),
        ]
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
