"""Managing events: create, change, pause, resume, close, and read them back."""

from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

from common.tokens.ids import validate_id
from waitroom.models import (
    Defaults,
    EventAction,
    EventChange,
    EventConfig,
    EventState,
    EventView,
    NotFoundError,
)

MAX_TICKETS = 10_000_000
MAX_CHECKOUT_TTL_SECONDS = 24 * 3600
MAX_CONCURRENT_LIMIT = 1_000_000
# (setting, lowest, highest); a batch_size above max_concurrent is lowered to max_concurrent
_BOUNDS = (
    ("max_concurrent", 1, MAX_CONCURRENT_LIMIT),
    ("batch_size", 1, MAX_CONCURRENT_LIMIT),
    ("checkout_ttl_seconds", 1, MAX_CHECKOUT_TTL_SECONDS),
    ("tickets", 0, MAX_TICKETS),
    ("new_per_minute", 0, MAX_CONCURRENT_LIMIT),
)


class EventStore(Protocol):
    async def create_event(self, config: EventConfig, now_ms: int) -> EventView: ...

    async def update_event(self, event_id: str, change: EventChange, now_ms: int) -> EventView: ...

    async def get_event(self, event_id: str, now_ms: int = 0) -> EventView | None: ...

    async def event_ids(self) -> list[str]: ...


def _check_bounds(settings: EventConfig | EventChange) -> None:
    """Each given setting within its bounds (None: not given)."""
    for name, lowest, highest in _BOUNDS:
        value = getattr(settings, name)
        if value is not None and not lowest <= value <= highest:
            raise ValueError(f"{name} must be between {lowest} and {highest}")


class EventAdmin:
    def __init__(
        self,
        store: EventStore,
        defaults: Defaults,
        clock_ms: Callable[[], int],
        may_admit: Callable[[], None] = lambda: None,
        changed: Callable[[str], None] = lambda event_id: None,
    ) -> None:
        """may_admit(): told when a change may let people in now (an opening, a resume);
        changed(event_id): told after every change (a pause, say, that watchers must see)."""
        self._store = store
        self._defaults = defaults
        self._now = clock_ms
        self._may_admit = may_admit
        self._changed = changed

    async def create(self, request: EventConfig) -> EventView:
        """Zero settings take the defaults; a batch_size above max_concurrent is lowered to it."""
        validate_id("event_id", request.event_id)
        defaults = self._defaults
        config = replace(
            request,
            max_concurrent=request.max_concurrent or defaults.max_concurrent,
            batch_size=request.batch_size or defaults.batch_size,
            checkout_ttl_seconds=request.checkout_ttl_seconds or defaults.checkout_ttl_seconds,
            opens_at_ms=request.opens_at_ms or self._now(),
            state=EventState.OPEN,
        )
        _check_bounds(config)
        return await self._store.create_event(config, self._now())

    async def update(self, event_id: str, change: EventChange) -> EventView:
        validate_id("event_id", event_id)
        _check_bounds(change)
        view = await self._store.update_event(event_id, change, self._now())
        opens_now = change.opens_at_ms is not None and change.opens_at_ms <= self._now()
        if opens_now or change.action is EventAction.RESUME:
            self._may_admit()
        self._changed(event_id)
        return view

    async def get(self, event_id: str) -> EventView:
        validate_id("event_id", event_id)
        view = await self._store.get_event(event_id, self._now())
        if view is None:
            raise NotFoundError(f"event {event_id!r} does not exist")
        return view

    async def list(self) -> list[EventView]:
        views = [
            await self._store.get_event(event_id, self._now())
            for event_id in await self._store.event_ids()
        ]
        return [view for view in views if view is not None]
