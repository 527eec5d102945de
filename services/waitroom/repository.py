"""The only module that talks to Redis: the waitroom's keys, scripts and outbox."""

import zlib

from common.redis.batch import ScriptBatcher
from common.redis.client import RedisClient
from common.redis.scripts import KeySpace, load_script
from waitroom.event_settings import (
    ADMITTED_TOTAL,
    SOLD_OUT,
    UPDATED_AT,
    WAITING,
    Finish,
    Refusal,
    change_fields,
    flat,
    from_fields,
    number,
    pairs,
    refused,
    to_fields,
)
from waitroom.models import (
    ADMIT_STEP,
    AdmissionResult,
    AlreadyExistsError,
    EventChange,
    EventConfig,
    EventState,
    EventView,
    JoinOutcome,
    NotFoundError,
    SessionRecord,
    Status,
)

EVENTS_KEY = "waitroom:events"
LEFT_FEED = "left"  # the event's stream of who left the line (lua/leave.lua, lua/pulse.lua)
SEEN_TTL_S = 7 * 24 * 3600  # how long a consumed message_id is remembered
RATE_BUCKET_MS = 10_000
RATE_BUCKETS = 6
LOTTERY_PLACES = 2**40  # lottery places lie below this; see lua/lib.lua
USER_BUCKETS = 16384
_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


KEYS = KeySpace("waitroom")
key, prefix = KEYS.key, KEYS.prefix


def token_bucket(token: str) -> int:
    """The first 14 bits of a base64url token, as lua/lib.lua computes them."""
    high, mid, low = (max(_B64.find(c), 0) for c in token[:3])
    return (high * 4096 + mid * 64 + low) // 16


def user_bucket(user_id: str) -> int:
    return zlib.crc32(user_id.encode()) % USER_BUCKETS


class WaitroomRepository:
    def __init__(self, redis: RedisClient) -> None:
        self._redis = self.redis = redis
        self._batch = self.batch = ScriptBatcher(redis)
        self._join = load_script(redis, "waitroom", "join")
        self._leave = load_script(redis, "waitroom", "leave")
        self._status = load_script(redis, "waitroom", "status")
        self._admit = load_script(redis, "waitroom", "admit")
        self._create = load_script(redis, "waitroom", "create_event")
        self._update = load_script(redis, "waitroom", "update_event")
        self._finish = load_script(redis, "waitroom", "finish")
        self._sold_out = load_script(redis, "waitroom", "sold_out")

    async def ping(self) -> bool:
        """Redis answers; the batched scripts are loaded, so a burst never starts on NOSCRIPT."""
        for script in (self._join, self._status):
            await self._redis.script_load(script.script)
        return bool(await self._redis.ping())

    # --- events -------------------------------------------------------------------------

    async def create_event(self, config: EventConfig, now_ms: int) -> EventView:
        await self._redis.sadd(EVENTS_KEY, config.event_id)
        args = flat({**to_fields(config), UPDATED_AT: str(now_ms)})
        keys = [key(config.event_id, "config"), key(config.event_id, "outbox")]
        created = await self._batch.call(self._create, keys, args)
        if not created:
            raise AlreadyExistsError(f"event {config.event_id!r} exists already")
        return _view(config.event_id, pairs(created), 0)

    async def update_event(self, event_id: str, change: EventChange, now_ms: int) -> EventView:
        """Validates and applies the change, in one round trip; raises what refused it."""
        keys = [key(event_id, s) for s in ("config", "outbox", "processing")]
        action = change.action.value if change.action else ""
        args = [now_ms, action, *flat(change_fields(change))]
        reply = await self._batch.call(self._update, keys, args)
        if reply[0] == "refused":
            raise refused(event_id, Refusal(reply[1]))
        return _view(event_id, pairs(reply[1]), int(reply[2]))

    async def event_ids(self) -> list[str]:
        return sorted(str(e) for e in await self._redis.smembers(EVENTS_KEY))

    async def get_event(self, event_id: str) -> EventView | None:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(key(event_id, "config"))
            pipe.zcard(key(event_id, "processing"))
            raw, processing = await pipe.execute()
        return _view(event_id, raw, processing) if raw else None

    # --- sessions -----------------------------------------------------------------------

    async def join(
        self, event_id: str, user_id: str, token: str, now_ms: int, ttl_s: int, lottery: float
    ) -> JoinOutcome:
        """The new or the existing session; raises when the event takes no joins."""
        keys = [
            key(event_id, "config"),
            key(event_id, f"users:{user_bucket(user_id)}"),
            key(event_id, "outbox"),
            key(event_id, f"wait:{token_bucket(token)}"),
            prefix(event_id),
        ]
        place = int(lottery * LOTTERY_PLACES)
        args = [token, user_id, now_ms, ttl_s, place]
        reply = await self._batch.call(self._join, keys, args)
        if reply[0] == "refused":
            raise refused(event_id, Refusal(reply[1]), joining=True)
        _, found, status, rank, length, opens_at, place = reply
        return JoinOutcome(
            token=str(found),
            status=Status(status),
            rank=None if int(rank) < 0 else int(rank),
            queue_length=int(length),
            opens_at_ms=int(opens_at),
            place=int(place) if place else None,
        )

    async def session(
        self, event_id: str, token: str, now_ms: int, ttl_s: int, touch: bool = True
    ) -> SessionRecord | None:
        """touch: mark the person as still there (a poll); a watcher's presence is batched."""
        keys = [
            key(event_id, f"session:{token}"),
            key(event_id, f"wait:{token_bucket(token)}"),
            key(event_id, "config"),
            key(event_id, "admits"),
            prefix(event_id),
        ]
        args = [token, ttl_s, now_ms, "1" if touch else "0"]
        reply = await self._batch.call(self._status, keys, args)
        if not reply:
            return None
        (status, user_id, admitted, expires, *_), rank, length, config, admits, place = reply
        recent, window = recent_admissions(pairs(admits), now_ms)
        return SessionRecord(
            status=Status(status),
            user_id=user_id or "",
            admitted_at_ms=number(admitted),
            expires_at_ms=number(expires),
            rank=None if int(rank) < 0 else int(rank),
            queue_length=int(length),
            opens_at_ms=number(config[0]),
            batch_size=number(config[1]),
            recent_admissions=recent,
            rate_window_ms=window,
            state=EventState(config[4] or EventState.OPEN.value),
            place=number(place),
            popped=number(config[5]),
            left_seq=number(config[6]),
        )

    async def leave(self, event_id: str, token: str, now_ms: int, ttl_s: int) -> Status:
        """The session's status after the call: left, or the status that kept it."""
        keys = [
            key(event_id, f"session:{token}"),
            key(event_id, f"wait:{token_bucket(token)}"),
            key(event_id, "config"),
            key(event_id, "outbox"),
            prefix(event_id),
            key(event_id, LEFT_FEED),
        ]
        reply = await self._batch.call(self._leave, keys, [token, now_ms, ttl_s])
        if reply == Refusal.NOT_FOUND:
            raise NotFoundError("session not found")
        return Status(reply)

    # --- the processor ------------------------------------------------------------------

    async def admit(
        self,
        event_id: str,
        step_id: str,
        now_ms: int,
        ttl_s: int,
        already: int = 0,
        limit: int = ADMIT_STEP,
    ) -> AdmissionResult:
        """One step of a cycle: at most `limit` more people, `already` admitted in this cycle."""
        keys = [key(event_id, s) for s in ("config", "processing", "outbox", "admits")]
        keys.append(prefix(event_id))
        args: list[str | int] = [now_ms, step_id, ttl_s, already, limit]
        # not retried here: the processor tries a failed step again itself, with the same step
        # id and the time of the new try (a time kept from before a failover would date the
        # admissions and their holds' deadlines seconds back)
        reply = await self._batch.call(self._admit, keys, args, retry_for=0)
        admitted, reaped, queued, processing, duplicate = (int(v) for v in reply)
        return AdmissionResult(admitted, reaped, queued, processing, bool(duplicate))

    # --- checkout outcomes ----------------------------------------------------------------

    async def finish(
        self, event_id: str, token: str, status: Status, message_id: str, now_ms: int
    ) -> Finish:
        """Applies a checkout outcome and frees the slot; a replayed message changes nothing."""
        keys = [
            key(event_id, f"session:{token}"),
            key(event_id, "processing"),
            key(event_id, f"seen:{message_id}"),
        ]
        args = [token, status.value, now_ms, SEEN_TTL_S]
        return Finish(await self._batch.call(self._finish, keys, args))

    async def sold_out(self, event_id: str) -> None:
        """Stops admission; everyone still in line reads SOLD_OUT from now on."""
        await self._batch.call(self._sold_out, [key(event_id, "config")], [])


def _view(event_id: str, raw: dict[str, str], processing: int) -> EventView:
    sold_out = raw.get(SOLD_OUT) == "1"
    return EventView(
        from_fields(event_id, raw),
        0 if sold_out else number(raw.get(WAITING)),
        processing,
        number(raw.get(ADMITTED_TOTAL)),
        sold_out,
    )


def recent_admissions(buckets: dict[str, str], now_ms: int) -> tuple[int, int]:
    """Admissions in the last minute and the span they were counted over (ms)."""
    current = now_ms // RATE_BUCKET_MS
    counted = {int(b): int(c) for b, c in buckets.items() if int(b) >= current - RATE_BUCKETS}
    if not counted:
        return 0, 0
    first = min(counted)
    span = now_ms - first * RATE_BUCKET_MS
    return sum(counted.values()), max(span, RATE_BUCKET_MS)
