"""The small amount of arithmetic the benchmark needs: medians, a least-squares slope, linearity."""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Sequence


def median(values: Sequence[float]) -> float:
    """Median of ``values``; a benchmark with no sample is a bug in the caller, so it raises."""
    if not values:
        raise ValueError("median of no samples")
    return float(statistics.median(values))


def least_squares_slope(points: Sequence[tuple[float, float]]) -> float:
    """Slope of the least-squares line through ``points`` (x, y); needs two distinct x values."""
    if len({x for x, _ in points}) < 2:
        raise ValueError("a slope needs at least two distinct x values")
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    covariance = sum((x - mean_x) * (y - mean_y) for x, y in points)
    variance = sum((x - mean_x) ** 2 for x, _ in points)
    return covariance / variance


def segment_slopes(points: Sequence[tuple[float, float]]) -> list[float]:
    """Slope of each segment between consecutive points, sorted by x (e.g. 1->10 and 10->50)."""
    ordered = sorted(points)
    return [(y2 - y1) / (x2 - x1) for (x1, y1), (x2, y2) in itertools.pairwise(ordered) if x2 != x1]


def linearity(points: Sequence[tuple[float, float]]) -> float | None:
    """Last segment's slope over the first's (1.0 is linear, above 1 superlinear); ``None`` without 3 points.

    Also ``None`` when the first slope is not positive: a ratio to zero or a negative cost says nothing.
    """
    slopes = segment_slopes(points)
    if len(slopes) < 2 or slopes[0] <= 0:
        return None
    return slopes[-1] / slopes[0]
