"""The EVALSHA calls the services send, built from their own scripts and key helpers.

Each builder takes its keys and arguments in the order of the repository method named in
its docstring (services/*/repository.py), with the KeySpace, bucket and key functions those
modules define, so the script text, the keys and the slot are what production sends. The
bench checks afterwards that the repositories themselves read back what these calls wrote.
"""

from dataclasses import dataclass

from redis.commands.core import AsyncScript

from checkout.repository import SEEN_TTL_SECONDS, _hold_keys
from checkout.repository import key as checkout_key
from common.redis.client import RedisClient
from common.redis.scripts import load_script
from common.tokens.ids import make_session_id
from stats.repository import EVENT_KEYS
from stats.repository import key as stats_key
from waitroom.repository import (
    LEFT_FEED,
    LOTTERY_PLACES,
    SEEN_TTL_S,
    key,
    prefix,
    token_bucket,
    user_bucket,
)

SCRIPTS = {
    "join": ("waitroom", "join"),
    "status": ("waitroom", "status"),
    "leave": ("waitroom", "leave"),
    "admit": ("waitroom", "admit"),
    "finish": ("waitroom", "finish"),
    "hold": ("checkout", "hold"),
    "purchase": ("checkout", "purchase"),
    "apply": ("stats", "apply"),
}
Call = list[str | int]


@dataclass(frozen=True, slots=True)
class Person:
    user_id: str
    token: str


def scripts(unconnected: RedisClient) -> dict[str, AsyncScript]:
    """Every script by its bench name; register_script only hashes the text, it sends nothing."""
    return {name: load_script(unconnected, *where) for name, where in SCRIPTS.items()}


def _evalsha(script: AsyncScript, keys: list[str], args: list[str | int]) -> Call:
    return [script.sha, len(keys), *keys, *args]


def join(s: AsyncScript, e: str, p: Person, now_ms: int, ttl_s: int, lottery: float) -> Call:
    """WaitroomRepository.join"""
    keys = [
        key(e, "config"),
        key(e, f"users:{user_bucket(p.user_id)}"),
        key(e, "outbox"),
        key(e, f"wait:{token_bucket(p.token)}"),
        prefix(e),
    ]
    place = int(lottery * LOTTERY_PLACES)
    return _evalsha(s, keys, [p.token, p.user_id, now_ms, ttl_s, place])


def status(s: AsyncScript, e: str, p: Person, now_ms: int, ttl_s: int) -> Call:
    """WaitroomRepository.session"""
    keys = [
        key(e, f"session:{p.token}"),
        key(e, f"wait:{token_bucket(p.token)}"),
        key(e, "config"),
        key(e, "admits"),
        prefix(e),
    ]
    return _evalsha(s, keys, [p.token, ttl_s, now_ms, "1"])


def leave(s: AsyncScript, e: str, p: Person, now_ms: int, ttl_s: int) -> Call:
    """WaitroomRepository.leave"""
    keys = [
        key(e, f"session:{p.token}"),
        key(e, f"wait:{token_bucket(p.token)}"),
        key(e, "config"),
        key(e, "outbox"),
        prefix(e),
        key(e, LEFT_FEED),
    ]
    return _evalsha(s, keys, [p.token, now_ms, ttl_s])


def admit(s: AsyncScript, e: str, step_id: str, now_ms: int, ttl_s: int, limit: int) -> Call:
    """WaitroomRepository.admit, the first step of a cycle (already = 0)"""
    keys = [key(e, name) for name in ("config", "processing", "outbox", "admits")]
    return _evalsha(s, [*keys, prefix(e)], [now_ms, step_id, ttl_s, 0, limit])


def finish(s: AsyncScript, e: str, p: Person, message_id: str, now_ms: int) -> Call:
    """WaitroomRepository.finish of a CHECKOUT_COMPLETED"""
    keys = [key(e, f"session:{p.token}"), key(e, "processing"), key(e, f"seen:{message_id}")]
    return _evalsha(s, keys, [p.token, "completed", now_ms, SEEN_TTL_S])


def hold(
    s: AsyncScript, e: str, p: Person, expires_ms: int, per_hold: int, now_ms: int, message: str
) -> Call:
    """CheckoutRepository.hold_once, as for a QUEUE_READY"""
    keys = [
        *_hold_keys(e, p.token)[:4],
        checkout_key(e, f"seen:{message}"),
        checkout_key(e, "waiting"),
    ]
    args: list[str | int] = [p.token, p.user_id, expires_ms, per_hold, now_ms, SEEN_TTL_SECONDS]
    return _evalsha(s, keys, [*args, make_session_id(e, p.token), "1", ""])  # no seal


def purchase(s: AsyncScript, e: str, p: Person, quantity: int, order_id: str, now_ms: int) -> Call:
    """CheckoutRepository.purchase"""
    args: list[str | int] = [p.token, quantity, f"pay-{order_id}", order_id, now_ms]
    args += [make_session_id(e, p.token), make_session_id(e, "")]
    return _evalsha(s, [*_hold_keys(e, p.token), checkout_key(e, "hold:")], args)


def apply(s: AsyncScript, e: str, changes: list[tuple[str, Person, int, int]]) -> Call:
    """StatsRepository._apply_event: (kind, person, at_ms, tickets bought) per message"""
    keys = [stats_key(e, name) for name in EVENT_KEYS]
    args: list[str | int] = []
    for kind, p, at_ms, value in changes:
        sid = make_session_id(e, p.token)
        keys += (stats_key(e, f"session:{sid}"), stats_key(e, f"user:{p.user_id}"))
        args += (kind, sid, p.user_id, at_ms, value, "", 0)
    return _evalsha(s, keys, args)
