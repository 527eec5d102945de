"""Pollers' presence held in a serving process: written once per `refresh` while they poll,
once more when they stop, and never lagging Redis by more than the abandonment clock allows."""

from waitroom.presence import PollPresence

REFRESH, STOPPED = 1800, 120


def test_a_steady_poller_is_written_once_per_refresh_not_once_per_round():
    presence, writes = PollPresence(REFRESH, STOPPED), 0
    for second in range(0, 7200, 30):  # two hours of a poll every 30 s
        presence.polled("e", "t", second)
        if second % 60 == 0:  # a presence round every minute
            for event_id, batch in presence.due(second).items():
                writes += 1
                assert second - batch["t"] < 60  # what is written is a fresh poll
                presence.written(event_id, batch, second, gone=[])
    assert writes == 3  # at 1800, 3600 and 5400 s (the first poll counts as written)
    assert presence.held() == 1


def test_who_stops_polling_has_their_last_poll_written_once_and_is_forgotten():
    presence = PollPresence(REFRESH, STOPPED)
    for second in (0, 30, 60, 90):
        presence.polled("e", "t", second)
    assert presence.due(120) == {}  # still polling, within the refresh
    due = presence.due(90 + STOPPED)
    assert due == {"e": {"t": 90}}
    presence.written("e", due["e"], 90 + STOPPED, gone=[])
    assert presence.held() == 0
    assert presence.due(1000) == {}


def test_one_poll_and_gone_is_forgotten_without_a_write():
    presence = PollPresence(REFRESH, STOPPED)
    presence.polled("e", "t", 10)
    assert presence.due(10 + STOPPED) == {}
    assert presence.held() == 0


def test_a_failed_write_stays_due_and_a_gone_person_is_forgotten():
    presence = PollPresence(REFRESH, STOPPED)
    presence.polled("e", "a", 0)
    presence.polled("e", "b", 0)
    presence.polled("e", "a", REFRESH)
    presence.polled("e", "b", REFRESH)
    assert presence.due(REFRESH) == {"e": {"a": REFRESH, "b": REFRESH}}
    assert presence.due(REFRESH + 60) == {"e": {"a": REFRESH, "b": REFRESH}}  # not written yet
    presence.written("e", {"a": REFRESH, "b": REFRESH}, REFRESH + 60, gone=["b"])
    assert presence.held() == 1
    presence.polled("e", "a", REFRESH + 70)
    assert presence.due(REFRESH + 80, everyone=True) == {"e": {"a": REFRESH + 70}}  # shutdown


def test_polls_between_the_due_and_the_write_stay_due():
    presence = PollPresence(REFRESH, STOPPED)
    presence.polled("e", "t", 0)
    presence.polled("e", "t", REFRESH)
    batch = presence.due(REFRESH)["e"]
    presence.polled("e", "t", REFRESH + 5)  # a poll while the write is on its way
    presence.written("e", batch, REFRESH + 6, gone=[])
    assert presence.due(REFRESH + 5 + STOPPED) == {"e": {"t": REFRESH + 5}}
