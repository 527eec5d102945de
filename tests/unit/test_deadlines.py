"""Which calls are shed for their deadline, and how long the others may work."""

import pytest

from common.process.deadlines import DeadlineRule

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
