"""The presence of people who poll, held in a serving process and written to Redis seldom.

A person keeps their place while they ask within QUEUE_SESSION_TTL; Redis keeps the second of
their last poll it was told (`last_seen_s` in the line's records). It need not be told every
poll, only often enough that what it holds is never older than the abandonment clock allows:

- a person who keeps polling here is written once their polls since the last write span
  `refresh` seconds (a quarter of the TTL), so Redis lags them by at most that and a round;
- a person who stops polling here (nothing for `stopped` seconds: they left, or now ask
  another replica) has their last poll written once, and is forgotten;
- a person first seen here counts as written at that second: whoever served them before
  wrote them within `refresh` of their last poll there (or the join did), so the first write
  may wait as long, and Redis lags them by at most twice `refresh` (half the TTL) meanwhile.

So a crowd that polls costs a write per person per quarter TTL instead of one per round, and
the abandonment clock still starts, within a few minutes, from their true last poll. A
serving process that dies loses what it held: the person's place then lasts from the last
poll written, at least half the TTL after their last poll.
"""

from dataclasses import dataclass


@dataclass(slots=True)
class _Polls:
    written_s: int  # the last second written to Redis (or taken as written)
    last_s: int  # the person's last poll here
    dirty: bool  # last_s is newer than what Redis was told


class PollPresence:
    def __init__(self, refresh: float, stopped: float) -> None:
        self._refresh, self._stopped = int(refresh), int(stopped)
        self._people: dict[str, dict[str, _Polls]] = {}  # event -> token -> their polls

    def polled(self, event_id: str, token: str, now_s: int) -> None:
        people = self._people.get(event_id)
        if people is None:
            people = self._people[event_id] = {}
        polls = people.get(token)
        if polls is None:
            people[token] = _Polls(now_s, now_s, False)
        elif now_s > polls.last_s:
            polls.last_s, polls.dirty = now_s, True

    def due(self, now_s: int, everyone: bool = False) -> dict[str, dict[str, int]]:
        """Each event's people to write now (token -> their last poll's second): those whose
        polls span `refresh` since the last write, those who stopped polling with a poll
        unwritten, and with `everyone` (a shutdown) all with one. Forgets who stopped with
        nothing left to write."""
        batches: dict[str, dict[str, int]] = {}
        for event_id, people in list(self._people.items()):
            batch: dict[str, int] = {}
            for token, polls in list(people.items()):
                stopped = now_s - polls.last_s >= self._stopped
                if polls.dirty and (
                    everyone or stopped or polls.last_s - polls.written_s >= self._refresh
                ):
                    batch[token] = polls.last_s
                elif stopped:
                    del people[token]
            if batch:
                batches[event_id] = batch
            if not people:
                del self._people[event_id]
        return batches

    def written(self, event_id: str, batch: dict[str, int], now_s: int, gone: list[str]) -> None:
        """Redis holds these polls now; who stopped is forgotten, and so is who is gone."""
        people = self._people.get(event_id, {})
        for token, second in batch.items():
            polls = people.get(token)
            if polls is None:
                continue
            polls.written_s, polls.dirty = second, polls.last_s > second
            if not polls.dirty and now_s - polls.last_s >= self._stopped:
                del people[token]
        for token in gone:
            people.pop(token, None)

    def held(self) -> int:
        return sum(len(people) for people in self._people.values())
