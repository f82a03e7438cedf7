"""Stats helpers: medians of odd/even samples, and no division by zero or None."""
from ctbench.stats import per, ratio, summarize


def test_summarize_odd_and_even():
    assert summarize([3.0, 1.0, 2.0]) == {"median": 2.0, "min": 1.0, "max": 3.0, "n": 3}
    assert summarize([4.0, 1.0, 2.0, 3.0])["median"] == 2.5


def test_summarize_empty_is_none():
    assert summarize([]) is None


def test_ratio_and_per_guard_missing_values():
    assert ratio(3.0, 1.5) == 2.0
    assert ratio(None, 1.0) is None
    assert ratio(1.0, 0.0) is None
    assert per(1000, 10) == 100
    assert per(1000, 0) is None
    assert per(None, 5) is None
