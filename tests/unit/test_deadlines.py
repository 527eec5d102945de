"""Which calls are shed for their deadline, and how long the others may work."""

import pytest

from common.process.deadlines import DeadlineRule, Pace

RULE = DeadlineRule(minimum=0.020, margin=0.030)


def test_a_call_without_a_deadline_is_never_refused_and_never_bounded():
    assert not RULE.refuses(None)
    assert RULE.budget(None) is None


def test_a_call_whose_deadline_passed_or_is_too_near_is_refused():
    assert RULE.refuses(0.0)
    assert RULE.refuses(0.049)  # 19 ms to work, less than the minimum


def test_a_call_with_time_left_works_until_the_margin_before_its_deadline():
    assert not RULE.refuses(0.050)
    assert RULE.budget(0.200) == pytest.approx(0.170)
    assert RULE.budget(0.050) == pytest.approx(0.020)  # at least the minimum to work


def test_a_negative_setting_is_refused_at_startup():
    with pytest.raises(ValueError, match="negative"):
        DeadlineRule(minimum=0.020, margin=-0.010)


def test_a_call_with_less_time_left_than_its_method_takes_lately_is_refused():
    assert RULE.refuses(0.150, expected=0.130)  # 120 ms to work, calls take 130 ms
    assert not RULE.refuses(0.200, expected=0.130)


def test_the_pace_follows_the_calls_and_fades_while_none_runs():
    pace = Pace(half_life=1.0, weight=0.5)
    pace.observe(0.100, now=10.0)
    pace.observe(0.100, now=10.0)
    assert pace.expected(now=10.0) == pytest.approx(0.075)
    assert pace.expected(now=11.0) == pytest.approx(0.0375)  # a second later, half as much
    assert pace.expected(now=20.0) < RULE.minimum  # a spike is not shed for ever
