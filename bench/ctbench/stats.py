"""Summary statistics: median with min/max (robust on a shared, noisy 2-core machine)."""
from __future__ import annotations

import statistics


def summarize(samples: list[float]) -> dict | None:
    """Median, min, max and count of `samples`; None when there are none."""
    if not samples:
        return None
    return {
        "median": statistics.median(samples),
        "min": min(samples),
        "max": max(samples),
        "n": len(samples),
    }


def ratio(value: float | None, base: float | None) -> float | None:
    """value/base, or None when either is missing or base is not positive."""
    if value is None or base is None or base <= 0:
        return None
    return value / base


def per(total: float | int | None, count: float | int | None) -> float | None:
    """total/count for rates like bytes per step; None instead of dividing by zero."""
    if total is None or not count:
        return None
    return total / count
