"""Small statistics shared by tables: rates with intervals, medians."""

from __future__ import annotations

import math


def wilson_interval(successes: int, total: int, z: float = 1.959964) -> tuple[float, float]:
    """95% Wilson score interval for a binomial rate (well behaved at 0 and n)."""
    if total == 0:
        return (math.nan, math.nan)
    p = successes / total
    denom = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denom
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denom
    # the interval holds p; at 0 and n rounding can leave a bound a hair on the wrong side of it
    return (min(p, max(0.0, centre - half)), max(p, min(1.0, centre + half)))


def rate_with_interval(successes: int, total: int) -> str:
    low, high = wilson_interval(successes, total)
    if total == 0:
        return "n/a"
    return f"{successes}/{total} = {successes / total:.0%} [{low:.0%}, {high:.0%}]"
