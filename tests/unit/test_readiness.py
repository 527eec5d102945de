"""When a dependency counts as down: failing for a whole window, not at one failed probe."""

from common.process.readiness import FailureWindow


def test_one_failed_probe_is_a_blip_not_an_outage():
    window = FailureWindow(3.0)
    window.observe(False, started=10.0)
    assert not window.down(now=10.5)
    window.observe(True, started=11.0)
    assert not window.down(now=20.0)


def test_probes_failing_for_the_whole_window_are_an_outage_until_one_passes():
    window = FailureWindow(3.0)
    for started in (10.0, 11.0, 12.0):
        window.observe(False, started)
    assert not window.down(now=12.9)
    window.observe(False, started=13.0)
    assert window.down(now=13.0)
    window.observe(True, started=14.0)
    assert not window.down(now=14.0)


def test_a_probe_that_hangs_for_the_window_counts_from_when_it_began():
    window = FailureWindow(3.0)
    window.observe(False, started=10.0)  # it timed out at 13.0
    assert window.down(now=13.0)
