"""The release gate: compare a current run's summary with a baseline's against per-metric thresholds.

Relative metrics regress when they move the wrong way by more than their allowed percentage; the throttle
ratio, already a percentage, regresses by absolute percentage points. Exactly at the limit passes.

Noise-aware: when the summaries carry their bootstrap offsets (summary `noise`, reports/noise.py), each
change gets a confidence interval, and a metric regresses only when the whole interval lies beyond its
limit; an interval that straddles the limit is "inconclusive" (the gate cannot tell at this noise). Without
offsets (older summaries, cost per million CDRs) the change is a point and the fixed thresholds decide.
When both runs were repeated (`cdrcap run --repeat N`, summary `repeats`), the interval comes from the
spread across repeats instead (reports/repeats.py), for every metric including the cost.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from reports.noise import offsets_of
from reports.repeats import METRIC_VALUES, REPEAT_DRAWS, RepeatsBlock, mean_draws, repeats_of
from reports.summary import Summary

_LIMIT_EPSILON = 1e-9


@dataclass(frozen=True)
class Thresholds:
    """How far each metric may move the wrong way before the gate fails (config: [tool.cdrcap.compare])."""

    sustained_accepted_rps_drop_pct: float = 5.0
    e2e_p99_increase_pct: float = 10.0
    iterator_age_max_increase_pct: float = 20.0
    throttle_ratio_increase_points: float = 1.0
    cost_per_million_increase_pct: float = 10.0
    # Two-sided confidence of each change's interval: a regression is called when the interval lies wholly
    # beyond the limit, i.e. a one-sided test at (100 - confidence) / 2 % (5 % with the default).
    confidence_pct: float = 90.0


@dataclass(frozen=True)
class Metric:
    name: str
    label: str
    unit: str
    higher_is_better: bool
    mode: Literal["relative", "points"]
    allowed: float
    extract: Callable[[Summary], float]

    def allowed_text(self) -> str:
        sign = "-" if self.higher_is_better else "+"
        return f"{sign}{self.allowed:g} points" if self.mode == "points" else f"{sign}{self.allowed:g}%"


def metrics_for(thresholds: Thresholds) -> tuple[Metric, ...]:
    return (
        Metric(
            "sustained_accepted_rps", "sustained accepted records/s", "rec/s", True, "relative",
            thresholds.sustained_accepted_rps_drop_pct, METRIC_VALUES["sustained_accepted_rps"],
        ),
        Metric(
            "e2e_latency_p99_ms", "end-to-end latency p99", "ms", False, "relative",
            thresholds.e2e_p99_increase_pct, METRIC_VALUES["e2e_latency_p99_ms"],
        ),
        Metric(
            "iterator_age_max_ms", "IteratorAge max", "ms", False, "relative",
            thresholds.iterator_age_max_increase_pct, METRIC_VALUES["iterator_age_max_ms"],
        ),
        Metric(
            "throttle_ratio", "throttle ratio", "%", False, "points",
            thresholds.throttle_ratio_increase_points, METRIC_VALUES["throttle_ratio"],
        ),
        Metric(
            "cost_per_million_cdrs_usd", "cost per million CDRs", "USD", False, "relative",
            thresholds.cost_per_million_increase_pct, METRIC_VALUES["cost_per_million_cdrs_usd"],
        ),
    )  # fmt: skip


def _changes(metric: Metric, baseline: np.ndarray, current: np.ndarray) -> np.ndarray:
    """Row.change over arrays of baseline and current values."""
    if metric.mode == "points":
        return current - baseline
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = (current - baseline) / np.abs(baseline) * 100
    grown = np.where(current == 0, 0.0, np.copysign(np.inf, current))
    return np.where(baseline == 0, grown, relative)


@dataclass(frozen=True)
class Row:
    metric: Metric
    baseline: float
    current: float
    # The change's confidence interval (change units); None: no samples, the change is a point.
    interval: tuple[float, float] | None = None

    @property
    def change(self) -> float:
        """Percent change (relative metrics) or percentage points (the throttle ratio)."""
        return float(_changes(self.metric, np.array([self.baseline]), np.array([self.current]))[0])

    @property
    def worse_by(self) -> tuple[float, float]:
        """How far the metric moved the wrong way: the interval's best and worst ends (a point twice)."""
        low, high = self.interval or (self.change, self.change)
        return (-high, -low) if self.metric.higher_is_better else (low, high)

    @property
    def regressed(self) -> bool:
        # Floating point must not turn "exactly at the limit" into a regression.
        return self.worse_by[0] > self.metric.allowed + _LIMIT_EPSILON

    @property
    def inconclusive(self) -> bool:
        """The interval straddles the limit: this noise cannot tell a regression from none."""
        return not self.regressed and self.worse_by[1] > self.metric.allowed + _LIMIT_EPSILON

    @property
    def verdict(self) -> str:
        if self.regressed:
            return "REGRESSION"
        if self.inconclusive:
            return "inconclusive"
        better = self.change > 0 if self.metric.higher_is_better else self.change < 0
        return "pass (better)" if better else "pass"

    def _value_text(self, value: float) -> str:
        if self.metric.unit == "%":
            return f"{value:.2f}%"
        if self.metric.unit == "USD":
            return f"${value:,.4f}"
        return f"{value:,.1f} {self.metric.unit}"

    def baseline_text(self) -> str:
        return self._value_text(self.baseline)

    def current_text(self) -> str:
        return self._value_text(self.current)

    def _change_value_text(self, change: float) -> str:
        if math.isinf(change):
            return "new (baseline 0)" if change > 0 else "-inf"
        if self.metric.mode == "points":
            return f"{change:+.2f} points"
        return f"{change:+.1f}%"

    def change_text(self) -> str:
        return self._change_value_text(self.change)

    def interval_text(self) -> str:
        """`[-7.9%, -2.1%]`, or `point (no samples)` when the change has no interval."""
        if self.interval is None:
            return "point (no samples)"
        low, high = self.interval
        return f"[{self._change_value_text(low)}, {self._change_value_text(high)}]"


@dataclass(frozen=True)
class Comparison:
    baseline_id: str
    current_id: str
    rows: tuple[Row, ...]
    notes: tuple[str, ...]
    confidence_pct: float = Thresholds.confidence_pct

    @property
    def regressed(self) -> bool:
        return any(row.regressed for row in self.rows)

    @property
    def inconclusive(self) -> bool:
        return any(row.inconclusive for row in self.rows)


def _borrowed(own: float, other: float, offsets: np.ndarray, metric: Metric) -> np.ndarray:
    """The other run's offsets for a run without samples: scaled to this run's level (relative metrics)."""
    if metric.mode == "points" or other == 0:
        return offsets
    return offsets * (own / other)


def _quantiles(changes: np.ndarray, confidence_pct: float) -> tuple[float, float]:
    tail = (1 - confidence_pct / 100) / 2
    # "lower"/"higher": no interpolation, so an infinite change (a zero baseline) stays infinite, not NaN.
    return (
        float(np.quantile(changes, tail, method="lower")),
        float(np.quantile(changes, 1 - tail, method="higher")),
    )


def _interval(
    metric: Metric, values: tuple[float, float], offsets: tuple[np.ndarray, np.ndarray], confidence_pct: float
) -> tuple[float, float]:
    baseline, current = values
    # Independent runs: pair the replicates in a fixed shuffled order, never index with index (two runs
    # bootstrapped with the same seed would otherwise move together and narrow the interval).
    shuffled = np.random.default_rng(0).permutation(offsets[1])
    count = min(offsets[0].size, shuffled.size)
    changes = _changes(metric, baseline + offsets[0][:count], current + shuffled[:count])
    return _quantiles(changes, confidence_pct)


def _repeat_rows(
    baseline: RepeatsBlock, current: RepeatsBlock, thresholds: Thresholds, notes: list[str]
) -> tuple[Row, ...]:
    """Both runs repeated: each metric's repeat means, and the interval of the change between them
    (reports/repeats.py: across-repeat variance, floored by the within-run bootstrap's)."""
    notes.append(
        f"both runs have repeats ({baseline['count']} and {current['count']}): values are the repeats' "
        "means, intervals come from the spread across repeats (floored by the noise within each run)"
    )
    rows = []
    for index, metric in enumerate(metrics_for(thresholds)):
        # Independent streams per side and metric: the two runs' draws must not move together.
        base = mean_draws(baseline, metric.name, REPEAT_DRAWS, np.random.default_rng([index, 0]))
        cur = mean_draws(current, metric.name, REPEAT_DRAWS, np.random.default_rng([index, 1]))
        values = (baseline["spread"][metric.name]["mean"], current["spread"][metric.name]["mean"])
        interval = _quantiles(_changes(metric, base, cur), thresholds.confidence_pct)
        rows.append(Row(metric, *values, interval))
    return tuple(rows)


def _rows(baseline: Summary, current: Summary, thresholds: Thresholds, notes: list[str]) -> tuple[Row, ...]:
    base_repeats, current_repeats = repeats_of(baseline), repeats_of(current)
    if base_repeats is not None and current_repeats is not None:
        return _repeat_rows(base_repeats, current_repeats, thresholds, notes)
    if base_repeats is not None or current_repeats is not None:
        notes.append(
            f"only the {'baseline' if base_repeats is not None else 'current run'} has repeats: each run is "
            "judged by its shown repeat with the within-run bootstrap"
        )
    base_offsets, current_offsets = offsets_of(baseline), offsets_of(current)
    if (base_offsets is None) != (current_offsets is None):
        missing = "baseline" if base_offsets is None else "current run"
        notes.append(
            f"the {missing} has no samples (a summary from before the noise-aware gate): its noise is taken "
            "to be the other run's"
        )
    elif base_offsets is None:
        notes.append("neither run has samples: changes are compared as points against the fixed limits")
    rows = []
    for metric in metrics_for(thresholds):
        values = (metric.extract(baseline), metric.extract(current))
        base = None if base_offsets is None else base_offsets.get(metric.name)
        cur = None if current_offsets is None else current_offsets.get(metric.name)
        if base is None and cur is None:
            rows.append(Row(metric, *values))
            continue
        if base is None:
            assert cur is not None
            base = _borrowed(values[0], values[1], cur, metric)
        if cur is None:
            cur = _borrowed(values[1], values[0], base, metric)
        rows.append(Row(metric, *values, _interval(metric, values, (base, cur), thresholds.confidence_pct)))
    return tuple(rows)


def compare_summaries(baseline: Summary, current: Summary, thresholds: Thresholds) -> Comparison:
    notes: list[str] = []
    rows = _rows(baseline, current, thresholds, notes)
    if baseline["profile"]["name"] != current["profile"]["name"]:
        notes.append(
            f"the runs used different profiles (baseline {baseline['profile']['name']!r}, "
            f"current {current['profile']['name']!r}): the numbers may not be comparable"
        )
    if baseline["target"]["name"] != current["target"]["name"]:
        notes.append(
            "the runs used different targets "
            f"({baseline['target']['name']!r} vs {current['target']['name']!r})"
        )
    return Comparison(baseline["run_id"], current["run_id"], rows, tuple(notes), thresholds.confidence_pct)


def _result_line(comparison: Comparison) -> str:
    failed = [row.metric.label for row in comparison.rows if row.regressed]
    unsure = [row.metric.label for row in comparison.rows if row.inconclusive]
    lines = []
    if failed:
        lines.append(f"**Result: regression** in {', '.join(failed)}.")
    if unsure:
        lines.append(
            f"**{'Also inconclusive' if failed else 'Result: inconclusive'}** in {', '.join(unsure)}: the "
            f"{comparison.confidence_pct:g}% interval straddles the limit, so this noise cannot tell. "
            "Run longer load steps (more seconds and invocations per step) or more repeats "
            "(`cdrcap run --repeat N` on both sides) to narrow it."
        )
    return "\n\n".join(lines) if lines else "**Result: pass.**"


def comparison_markdown(comparison: Comparison) -> str:
    lines = [
        f"### cdrcap compare: `{comparison.current_id}` vs baseline `{comparison.baseline_id}`",
        "",
        f"| metric | baseline | current | change | {comparison.confidence_pct:g}% interval | verdict |",
        "|---|---|---|---|---|---|",
    ]
    for row in comparison.rows:
        verdict = (
            f"**{row.verdict}** (limit {row.metric.allowed_text()})"
            if row.regressed or row.inconclusive
            else f"{row.verdict} (limit {row.metric.allowed_text()})"
        )
        lines.append(
            f"| {row.metric.label} | {row.baseline_text()} | {row.current_text()} "
            f"| {row.change_text()} | {row.interval_text()} | {verdict} |"
        )
    lines += ["", _result_line(comparison)]
    lines += [f"\nNote: {note}." for note in comparison.notes]
    return "\n".join(lines) + "\n"
