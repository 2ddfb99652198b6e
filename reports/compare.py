"""The release gate: compare a current run's summary with a baseline's against per-metric thresholds.

Relative metrics regress when they move the wrong way by more than their allowed percentage; the throttle
ratio, already a percentage, regresses by absolute percentage points. Exactly at the limit passes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

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
            thresholds.sustained_accepted_rps_drop_pct, lambda s: s["throughput"]["sustained_accepted_rps"],
        ),
        Metric(
            "e2e_latency_p99_ms", "end-to-end latency p99", "ms", False, "relative",
            thresholds.e2e_p99_increase_pct, lambda s: s["e2e_latency_ms"]["p99"],
        ),
        Metric(
            "iterator_age_max_ms", "IteratorAge max", "ms", False, "relative",
            thresholds.iterator_age_max_increase_pct, lambda s: s["iterator_age_ms"]["max"],
        ),
        Metric(
            "throttle_ratio", "throttle ratio", "%", False, "points",
            thresholds.throttle_ratio_increase_points, lambda s: s["throttle_ratio"] * 100,
        ),
        Metric(
            "cost_per_million_cdrs_usd", "cost per million CDRs", "USD", False, "relative",
            thresholds.cost_per_million_increase_pct, lambda s: s["cost_per_million_cdrs_usd"],
        ),
    )  # fmt: skip


@dataclass(frozen=True)
class Row:
    metric: Metric
    baseline: float
    current: float

    @property
    def change(self) -> float:
        """Percent change (relative metrics) or percentage points (the throttle ratio)."""
        if self.metric.mode == "points":
            return self.current - self.baseline
        if self.baseline == 0:
            return 0.0 if self.current == 0 else math.copysign(math.inf, self.current)
        return (self.current - self.baseline) / abs(self.baseline) * 100

    @property
    def regressed(self) -> bool:
        worse_by = -self.change if self.metric.higher_is_better else self.change
        # Floating point must not turn "exactly at the limit" into a regression.
        return worse_by > self.metric.allowed + _LIMIT_EPSILON

    @property
    def verdict(self) -> str:
        if self.regressed:
            return "REGRESSION"
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

    def change_text(self) -> str:
        if math.isinf(self.change):
            return "new (baseline 0)"
        if self.metric.mode == "points":
            return f"{self.change:+.2f} points"
        return f"{self.change:+.1f}%"


@dataclass(frozen=True)
class Comparison:
    baseline_id: str
    current_id: str
    rows: tuple[Row, ...]
    notes: tuple[str, ...]

    @property
    def regressed(self) -> bool:
        return any(row.regressed for row in self.rows)


def compare_summaries(baseline: Summary, current: Summary, thresholds: Thresholds) -> Comparison:
    rows = tuple(Row(m, m.extract(baseline), m.extract(current)) for m in metrics_for(thresholds))
    notes = []
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
    return Comparison(baseline["run_id"], current["run_id"], rows, tuple(notes))


def comparison_markdown(comparison: Comparison) -> str:
    lines = [
        f"### cdrcap compare: `{comparison.current_id}` vs baseline `{comparison.baseline_id}`",
        "",
        "| metric | baseline | current | change | verdict |",
        "|---|---|---|---|---|",
    ]
    for row in comparison.rows:
        verdict = (
            f"**{row.verdict}** (limit {row.metric.allowed_text()})"
            if row.regressed
            else f"{row.verdict} (limit {row.metric.allowed_text()})"
        )
        lines.append(
            f"| {row.metric.label} | {row.baseline_text()} | {row.current_text()} "
            f"| {row.change_text()} | {verdict} |"
        )
    lines.append("")
    failed = [row.metric.label for row in comparison.rows if row.regressed]
    lines.append(f"**Result: regression** in {', '.join(failed)}." if failed else "**Result: pass.**")
    lines += [f"\nNote: {note}." for note in comparison.notes]
    return "\n".join(lines) + "\n"
