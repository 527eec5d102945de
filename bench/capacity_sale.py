"""The capacity bench's sale: one event, every script of its life driven in turn, and checked."""

import random
from dataclasses import dataclass, field
from typing import Any

import redis
from redis.asyncio import Redis as AsyncRedis
from redis.commands.core import AsyncScript

from bench import capacity_calls as calls
from bench.capacity_calls import Call, Person
from bench.capacity_phases import Figures, check, config_number, measure, now_ms
from checkout.repository import key as checkout_key
from common.tokens.ids import new_session_token
from stats.repository import key as stats_key
from waitroom.models import ADMIT_STEP
from waitroom.repository import key

SESSION_TTL_S = 7200  # QUEUE_SESSION_TTL's default
INTERVAL_MS = 1000  # QUEUE_PROCESS_INTERVAL's default: one admission cycle a second
STATS_BATCH = 50  # STATS_BATCH's default: messages per apply call
PER_HOLD, BOUGHT = 4, 2  # CHECKOUT_TICKETS_PER_HOLD's default; tickets each buyer takes


@dataclass(frozen=True, slots=True)
class Shape:
    people: int
    connections: int
    pipeline: int  # calls a batch; each connection keeps two batches in flight
    max_concurrent: int
    batch_size: int
    checkout_ttl_s: int
    leave_every: int = 10  # one person in this many leaves the line before the admissions


@dataclass
class Sale:
    client: redis.Redis
    event_id: str
    shape: Shape
    people: list[Person] = field(default_factory=list)
    admitted: list[Person] = field(default_factory=list)
    scripts: dict[str, AsyncScript] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.scripts = calls.scripts(AsyncRedis())
        for script in self.scripts.values():
            check(self.client.script_load(script.script) == script.sha, "script sha differs")
        self.people = [Person(f"user-{n:08d}", new_session_token()) for n in range(self.people_n)]

    @property
    def people_n(self) -> int:
        return self.shape.people

    def _measure(
        self, name: str, batch: list[Call], per_call: float = 1.0, connections: int = 0
    ) -> tuple[Figures, list[Any]]:
        """One phase; the admission steps go on one connection, in order, as one processor's."""
        shape = self.shape
        return measure(
            self.client, name, batch, connections or shape.connections, shape.pipeline, per_call
        )

    def waiting(self) -> int:
        return config_number(self.client, key(self.event_id, "config"), "waiting")

    def join(self) -> Figures:
        s, e, t = self.scripts["join"], self.event_id, now_ms()
        batch = [calls.join(s, e, p, t, SESSION_TTL_S, random.random()) for p in self.people]
        figures, replies = self._measure("join", batch)
        check(all(r[0] == "new" for r in replies), "join: a join did not make a new session")
        tokens = [r[1] for r in replies]
        check(tokens == [p.token for p in self.people], "join: a session is not the one asked")
        check(sorted(r[3] for r in replies) == list(range(self.people_n)), "join: ranks differ")
        check(self.waiting() == self.people_n, f"join: {self.waiting()} in line")
        # the connections interleave: the line's order is the ranks the joins were given
        ranked = sorted(zip((r[3] for r in replies), self.people, strict=True))
        self.people = [p for _, p in ranked]
        check(config_number(self.client, key(e, "config"), "seq") == self.people_n, "join: seq")
        return figures

    def status(self) -> Figures:
        s, e, t = self.scripts["status"], self.event_id, now_ms()
        polled = random.sample(self.people, len(self.people))
        batch = [calls.status(s, e, p, t, SESSION_TTL_S) for p in polled]
        figures, replies = self._measure("status", batch)
        check(all(r and r[0][0] == "queued" for r in replies), "status: someone is not queued")
        ranks = sorted(r[1] for r in replies)
        check(ranks == list(range(self.people_n)), "status: positions are not 1..people")
        return figures

    def leave(self) -> Figures:
        s, e, t = self.scripts["leave"], self.event_id, now_ms()
        leaving = self.people[:: self.shape.leave_every]
        batch = [calls.leave(s, e, p, t, SESSION_TTL_S) for p in leaving]
        figures, replies = self._measure("leave", batch)
        check(replies == ["left"] * len(leaving), "leave: someone did not leave")
        gone = set(leaving)
        self.admitted = [p for p in self.people if p not in gone]
        check(self.waiting() == len(self.admitted), f"leave: {self.waiting()} in line")
        return figures

    def admit(self) -> Figures:
        """Whole cycles, a second apart: holds end by their deadline, so slots free steadily."""
        s, e, t, shape = self.scripts["admit"], self.event_id, now_ms(), self.shape
        steps = -(-len(self.admitted) // shape.batch_size) + 2
        limit = min(shape.batch_size, ADMIT_STEP)
        batch = [
            calls.admit(s, e, f"bench:{i}.0", t + i * INTERVAL_MS, SESSION_TTL_S, limit)
            for i in range(steps)
        ]
        figures, replies = self._measure("admit", batch, len(self.admitted) / steps, 1)
        self._check_admissions(replies)
        return figures

    def _check_admissions(self, replies: list[list[int]]) -> None:
        waiting, shape = len(self.admitted), self.shape
        for admitted, _, left, processing, duplicate in replies:
            before = processing - admitted
            free = shape.max_concurrent - before
            allowed = min(shape.batch_size, ADMIT_STEP, free, waiting)
            check(duplicate == 0 and admitted == allowed, f"admit: {admitted}, allowed {allowed}")
            check(processing <= shape.max_concurrent, f"admit: {processing} in processing")
            check(left == waiting - admitted, "admit: someone left the line unadmitted")
            waiting = left
        total = config_number(self.client, key(self.event_id, "config"), "admitted_total")
        check(waiting == 0 and total == len(self.admitted), f"admit: {total} admitted")

    def finish(self) -> Figures:
        s, e, t = self.scripts["finish"], self.event_id, now_ms()
        batch = [calls.finish(s, e, p, f"done-{p.token}", t) for p in self.admitted]
        figures, replies = self._measure("finish", batch)
        check(replies == ["applied"] * len(batch), "finish: an outcome was not applied")
        check(self.client.zcard(key(e, "processing")) == 0, "finish: slots still taken")
        return figures

    def hold(self) -> Figures:
        s, e, t = self.scripts["hold"], self.event_id, now_ms()
        expires = t + 600_000
        batch = [
            calls.hold(s, e, p, expires, PER_HOLD, t, f"ready-{p.token}") for p in self.admitted
        ]
        figures, replies = self._measure("hold", batch)
        held = ["created", "held", PER_HOLD, expires, ""]
        check(all(r == held for r in replies), "hold: a hold was not made in full")
        return figures

    def purchase(self) -> Figures:
        s, e, t = self.scripts["purchase"], self.event_id, now_ms()
        batch = [calls.purchase(s, e, p, BOUGHT, f"o-{p.token}", t) for p in self.admitted]
        figures, replies = self._measure("purchase", batch)
        check(all(r[0] == "ok" and r[2] == BOUGHT for r in replies), "purchase: one failed")
        sold = config_number(self.client, checkout_key(e, "config"), "sold")
        check(sold == BOUGHT * len(self.admitted), f"purchase: {sold} tickets sold")
        return figures

    def apply(self) -> Figures:
        """QUEUE_JOINED for all, then QUEUE_READY and CHECKOUT_COMPLETED for the admitted."""
        s, e, t = self.scripts["apply"], self.event_id, now_ms()
        kinds = [("joined", p, t, 0) for p in self.people]
        kinds += [("ready", p, t + 1, 0) for p in self.admitted]
        kinds += [("completed", p, t + 2, BOUGHT) for p in self.admitted]
        chunks = [kinds[i : i + STATS_BATCH] for i in range(0, len(kinds), STATS_BATCH)]
        batch = [calls.apply(s, e, chunk) for chunk in chunks]
        per_call = len(kinds) / len(batch)
        figures, replies = self._measure("apply", batch, per_call)
        check(sum(replies) == len(kinds), "apply: messages not applied")
        counted = [self.client.scard(stats_key(e, n)) for n in ("joined", "admitted", "completed")]
        check(counted == [self.people_n, *[len(self.admitted)] * 2], f"apply: counts {counted}")
        return figures
