"""The only checkout module that talks to Redis: settings, inventory, holds and the outbox."""

from checkout.models import (
    Applied,
    EventSettings,
    Hold,
    Holder,
    HoldStatus,
    Order,
    Refusal,
    UnknownEventError,
)
from common.redis.batch import ScriptBatcher
from common.redis.client import RedisClient
from common.redis.scripts import KeySpace, load_script
from common.tokens.ids import SEAL_SEPARATOR, make_session_id

EVENTS_KEY = "checkout:events"
SEEN_TTL_SECONDS = 7 * 24 * 3600


key = KeySpace("checkout").key


class CheckoutRepository:
    def __init__(self, redis: RedisClient) -> None:
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
    ) -> Applied:
        e = settings.event_id
        await self._redis.sadd(EVENTS_KEY, e)
        keys = [key(e, "config"), key(e, "outbox"), key(e, f"seen:{message_id}"), key(e, "waiting")]
        keys.append(key(e, "hold:"))
        args = [settings.version, settings.tickets, SEEN_TTL_SECONDS, per_hold, now_ms]
        return Applied(await self._batch.call(self._configure, keys, args))

    async def hold(self, holder: Holder, per_hold: int, now_ms: int) -> Hold:
        """The session's hold, made now if it has none; UnknownEventError before the settings."""
        _, status, quantity, expires, order_id = await self._call_hold(holder, per_hold, now_ms, "")
        return Hold(
            holder.session_id,
            holder.event_id,
            HoldStatus(status),
            int(quantity),
            int(expires),
            str(order_id),
        )

    async def hold_once(self, holder: Holder, per_hold: int, now_ms: int, message_id: str) -> bool:
        """Makes the hold for a message unless that message was applied before (then False)."""
        reply = await self._call_hold(holder, per_hold, now_ms, message_id)
        return reply[0] != "duplicate"

    async def _call_hold(
        self, holder: Holder, per_hold: int, now_ms: int, message_id: str
    ) -> list[str]:
        e, token = holder.event_id, holder.token
        keys = [*_hold_keys(e, token)[:4], key(e, f"seen:{message_id or '-'}"), key(e, "waiting")]
        args = [token, holder.user_id, holder.expires_at_ms, per_hold, now_ms, SEEN_TTL_SECONDS]
        args += [holder.session_id, "1" if message_id else "0", _dotted(holder.seal)]
        reply: list[str] = await self._batch.call(self._hold, keys, args)
        if reply[0] == "unknown_event":
            raise UnknownEventError(f"checkout has no settings for event {e!r} yet")
        return reply

    async def purchase(
        self, holder: Holder, quantity: int, payment_reference: str, order_id: str, now_ms: int
    ) -> Order | Refusal:
        e, token = holder.event_id, holder.token
        args: list[str | int] = [token, quantity, payment_reference, order_id, now_ms]
        args += [holder.session_id, make_session_id(e, "")]
        keys = [*_hold_keys(e, token), key(e, "hold:")]
        reply = await self._batch.call(self._purchase, keys, args)
        if reply[0] == "ok":
            return Order(str(reply[1]), int(reply[2]))
        return Refusal(reply[0])

    async def cancel(self, holder: Holder, now_ms: int) -> HoldStatus | None:
        """The hold's status after the call (CANCELLED when it was held); None without a hold."""
        e, token = holder.event_id, holder.token
        keys = [*_hold_keys(e, token), key(e, "hold:")]
        reply = await self._batch.call(self._cancel, keys, [token, now_ms, holder.session_id])
        return None if reply == "no_hold" else HoldStatus(reply)

    async def sweep(self, event_id: str, now_ms: int, limit: int = 500) -> int:
        keys = [key(event_id, s) for s in ("config", "holds", "outbox", "waiting", "hold:")]
        args = [now_ms, make_session_id(event_id, ""), limit]
        return int(await self._batch.call(self._sweep, keys, args))


def _hold_keys(event_id: str, token: str) -> list[str]:
    """config, hold, holds (by deadline), outbox, waiting (holds with no ticket yet)."""
    return [
        key(event_id, "config"),
        key(event_id, f"hold:{token}"),
        key(event_id, "holds"),
        key(event_id, "outbox"),
        key(event_id, "waiting"),
    ]


def _dotted(seal: str) -> str:
    return f"{SEAL_SEPARATOR}{seal}" if seal else ""
