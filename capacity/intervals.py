"""Prediction intervals from the simulator's replications, and their coverage against measurements.

A p99 over a step of a few hundred invocations is itself a random draw: the poller's phase against the
arrivals, each invocation's deviation from the fitted duration and (without recorded arrivals) the arrivals
decide it. The simulator is run several times with different seeds (replications), and a prediction is
their median (the central value) with the 10th and 90th percentiles of the replications, widened by the
model's error beyond them as validation runs measured it (the 80% interval; capacity/interval_calibration.py).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from capacity.interval_calibration import INTERVAL_LEVEL, Margin, model_margin, widen

LOW_QUANTILE = (1.0 - INTERVAL_LEVEL) / 2.0
HIGH_QUANTILE = 1.0 - LOW_QUANTILE
# Replications per prediction of a run's steps: 21 put the 10th and 90th percentiles between the 3rd and
# 4th value from each end (at 7, the old count of poller phases, they are the extremes).
REPLICATIONS = 21


@dataclass(frozen=True)
class Interval:
    """A prediction: the central value and the 80% interval of the replications, in the metric's unit."""

    central: float
    low: float
    high: float
    replications: int
    log_margin: float = 0.0  # the calibrated margin low and high were widened by (ln units)

    @property
    def spread(self) -> tuple[float, float]:
        """The replications' own 10th-90th percentiles, before the margin."""
        factor = math.exp(self.log_margin)
        return self.low * factor, self.high / factor

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high

    @property
    def relative_width(self) -> float:
        """Width of the interval over the central value (inf when the central value is 0 or unbounded)."""
        if not math.isfinite(self.high - self.low) or self.central <= 0:
            return math.inf
        return (self.high - self.low) / self.central


def from_replications(values: Iterable[float]) -> Interval:
    """The median and the 10th/90th percentiles of the replications' values.

    Linear interpolation between replications; with any unbounded replication (an unstable lane) the
    percentiles are taken as replication values (no inf - inf)."""
    array = np.asarray(list(values), dtype=float)
    if array.size == 0:
        raise ValueError("an interval needs at least one replication")
    quantiles = [LOW_QUANTILE, 0.5, HIGH_QUANTILE]
    if np.isfinite(array).all():
        low, central, high = np.quantile(array, quantiles)
    else:
        low, central, high = np.quantile(array, quantiles, method="inverted_cdf")
    return Interval(float(central), float(low), float(high), int(array.size))


def predicted(values: Iterable[float], margin: Margin | None = None) -> Interval:
    """A prediction of a p99: the replications' interval widened by the calibrated margin (default: the
    model's, from every recorded validation point)."""
    margin = model_margin() if margin is None else margin
    spread = from_replications(values)
    low, high = widen(spread.low, spread.high, margin)
    return replace(spread, low=low, high=high, log_margin=margin.log_margin)


@dataclass(frozen=True)
class Coverage:
    """How predictions with intervals fared against the measurements of the same statistic."""

    points: int
    inside: int
    median_relative_width: float
    median_ape: float  # of the central value

    @property
    def share_inside(self) -> float:
        return self.inside / self.points if self.points else math.nan

    def to_dict(self) -> dict[str, float]:
        return {
            "points": self.points,
            "inside": self.inside,
            "coverage": self.share_inside,
            "median_relative_width": self.median_relative_width,
            "median_ape": self.median_ape,
        }


def coverage(pairs: Sequence[tuple[Interval, float]], *, floor: float = 1.0) -> Coverage:
    """Share of measured values inside their predicted interval, the intervals' median relative width and
    the central values' median absolute percentage error (against max(measured, floor), the APE's floor)."""
    finite = [(interval, value) for interval, value in pairs if math.isfinite(value)]
    if not finite:
        return Coverage(0, 0, math.nan, math.nan)
    inside = sum(interval.contains(value) for interval, value in finite)
    widths = [interval.relative_width for interval, _ in finite]
    apes = [abs(interval.central - value) / max(abs(value), floor) for interval, value in finite]
    return Coverage(len(finite), inside, statistics.median(widths), statistics.median(apes))
