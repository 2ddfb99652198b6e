"""A run of N repeats (`cdrcap run --repeat N`): the per-repeat gated metrics, their spread, the
across-repeat interval the release gate uses, and the repeat table of the report.

Each repeat is a whole run in `<run_dir>/repeat-<k>/`; the run's summary.json carries a `repeats` block
(`repeats_block`) with every repeat's gated metrics (compare's units) and its within-run bootstrap spread.

How noisy is one run of this build? The repeats' sample variance answers that directly, but from 2-10
values it is itself noisy: two repeats that happen to agree would make an interval narrower than the noise
inside either run. So the per-run variance is the larger of the across-repeat sample variance and the mean
within-run bootstrap variance (reports/noise.py), and the mean's error is drawn from a Student t with n-1
degrees of freedom when the repeats set the variance (few values: heavy tails), else from a normal (the
within-run bootstrap rests on hundreds of blocks).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypedDict, cast

import numpy as np

from reports.content import Table, num
from reports.errors import ReportInputError
from reports.summary import Summary, load_summary, write_summary

REPEAT_MIN, REPEAT_MAX = 1, 10
REPEAT_DIR = "repeat-{index}"  # <run_dir>/repeat-1 ... repeat-N
REPEAT_DRAWS = 4_000
REPEAT_METHOD = (
    "mean of the repeats; per-run variance = max(across-repeat sample variance, mean within-run bootstrap "
    "variance); error of the mean drawn from t(n-1) when the repeats set it, else normal"
)

# Each gated metric of `cdrcap compare`, in its units (the throttle ratio in percent).
METRIC_VALUES: dict[str, Callable[[Summary], float]] = {
    "sustained_accepted_rps": lambda s: s["throughput"]["sustained_accepted_rps"],
    "e2e_latency_p99_ms": lambda s: s["e2e_latency_ms"]["p99"],
    "iterator_age_max_ms": lambda s: s["iterator_age_ms"]["max"],
    "throttle_ratio": lambda s: s["throttle_ratio"] * 100,
    "cost_per_million_cdrs_usd": lambda s: s["cost_per_million_cdrs_usd"],
}


class RepeatRun(TypedDict):
    repeat: int
    run_id: str
    values: dict[str, float]
    within_sd: dict[str, float]  # sd of the repeat's own bootstrap replicates; 0 where it has none
    interrupted: bool


class RepeatStats(TypedDict):
    mean: float
    sd: float
    min: float
    max: float


class RepeatsBlock(TypedDict):
    """summary.json `repeats`."""

    count: int
    representative: int  # the repeat whose tables and plots the report shows
    method: str
    runs: list[RepeatRun]
    spread: dict[str, RepeatStats]


def check_repeat(count: int) -> int:
    """`count` when it is a repeat count `cdrcap run` accepts; ReportInputError naming it otherwise."""
    if not REPEAT_MIN <= count <= REPEAT_MAX:
        raise ReportInputError(
            f"--repeat {count}: a run repeats its profile {REPEAT_MIN} to {REPEAT_MAX} times; pass a count "
            f"in that range (more repeats narrow the gate's interval, at the cost of a longer run)"
        )
    return count


def _within_sd(summary: Mapping[str, Any]) -> dict[str, float]:
    offsets = summary.get("noise", {}).get("offsets", {}) if isinstance(summary.get("noise"), dict) else {}
    return {
        name: float(np.std(np.asarray(offsets[name], dtype=float))) if offsets.get(name) else 0.0
        for name in METRIC_VALUES
    }


def repeat_run(index: int, summary: Summary, *, interrupted: bool = False) -> RepeatRun:
    return {
        "repeat": index,
        "run_id": summary["run_id"],
        "values": {name: float(value(summary)) for name, value in METRIC_VALUES.items()},
        "within_sd": _within_sd(summary),
        "interrupted": interrupted,
    }


def repeats_block(runs: Sequence[RepeatRun], representative: int = 1) -> RepeatsBlock:
    spread: dict[str, RepeatStats] = {}
    for name in METRIC_VALUES:
        values = np.array([run["values"][name] for run in runs], dtype=float)
        spread[name] = {
            "mean": float(values.mean()),
            "sd": float(values.std(ddof=1)) if values.size > 1 else 0.0,
            "min": float(values.min()),
            "max": float(values.max()),
        }
    return {
        "count": len(runs),
        "representative": representative,
        "method": REPEAT_METHOD,
        "runs": list(runs),
        "spread": spread,
    }


def repeats_of(summary: Any) -> RepeatsBlock | None:
    """The summary's repeats block when it holds at least two repeats (one repeat has no spread)."""
    block = summary.get("repeats") if isinstance(summary, dict) else None
    if not isinstance(block, dict) or not isinstance(block.get("runs"), list) or len(block["runs"]) < 2:
        return None
    return block  # type: ignore[return-value]


def mean_draws(block: RepeatsBlock, metric: str, draws: int, rng: np.random.Generator) -> np.ndarray:
    """`draws` plausible values of this build's mean of `metric` over the block's repeats."""
    values = np.array([run["values"][metric] for run in block["runs"]], dtype=float)
    count = values.size
    across = float(values.var(ddof=1)) if count > 1 else 0.0
    within = float(np.mean([run["within_sd"].get(metric, 0.0) ** 2 for run in block["runs"]]))
    few = across >= within and count > 1
    errors = rng.standard_t(count - 1, draws) if few else rng.standard_normal(draws)
    return float(values.mean()) + np.sqrt(max(across, within) / count) * errors


_COLUMNS = (
    ("sustained_accepted_rps", "sustained rec/s", 0),
    ("e2e_latency_p99_ms", "e2e p99 ms", 0),
    ("iterator_age_max_ms", "IteratorAge max ms", 0),
    ("throttle_ratio", "throttled %", 2),
    ("cost_per_million_cdrs_usd", "USD per M CDRs", 4),
)


def repeats_table(summary: Summary) -> Table | None:
    """One row per repeat, then the mean, the sd and the relative sd of each gated metric."""
    block = repeats_of(summary)
    if block is None:
        return None
    rows: list[tuple[str, ...]] = [
        (
            f"{run['repeat']}{' (shown)' if run['repeat'] == block['representative'] else ''}"
            + (" (interrupted)" if run.get("interrupted") else ""),
            *(num(run["values"][name], digits) for name, _, digits in _COLUMNS),
        )
        for run in block["runs"]
    ]
    spread = block["spread"]
    rows.append(("mean", *(num(spread[name]["mean"], digits) for name, _, digits in _COLUMNS)))
    rows.append(("sd", *(num(spread[name]["sd"], digits) for name, _, digits in _COLUMNS)))
    rows.append(
        (
            "sd / mean",
            *(
                f"{spread[name]['sd'] / abs(spread[name]['mean']) * 100:.1f}%"
                if spread[name]["mean"]
                else "-"
                for name, _, _ in _COLUMNS
            ),
        )
    )
    return Table(("repeat", *(label for _, label, _ in _COLUMNS)), rows)


def repeats_line(summary: Summary) -> str | None:
    block = repeats_of(summary)
    if block is None:
        return None
    return (
        f"The profile ran {block['count']} times, each on a fresh local stack when the target is local "
        f"(repeat-1 ... repeat-{block['count']}/ in the run directory, each with its own report). The "
        f"report's other tables and plots are repeat {block['representative']}'s; `cdrcap compare` judges "
        "two runs with repeats by the repeats' means and their spread (docs/report.md, Release gate)."
    )


def write_repeated_summary(
    run_dir: Path, repeat_dirs: Sequence[Path], interrupted: Sequence[bool], representative: int = 1
) -> Path:
    """The run's summary.json: the representative repeat's summary, named after the run, with the repeats
    block; `<run_dir>/data` links to that repeat's data/, so the report's tables and plots are its own."""
    summaries = [load_summary(path) for path in repeat_dirs]
    runs = [
        repeat_run(index, summary, interrupted=stopped)
        for index, (summary, stopped) in enumerate(zip(summaries, interrupted, strict=True), start=1)
    ]
    combined: dict[str, Any] = {
        **summaries[representative - 1],
        "run_id": run_dir.name,
        "finished_at": summaries[-1]["finished_at"],  # the run spans every repeat
        "repeats": repeats_block(runs, representative),
    }
    data = run_dir / "data"
    if data.is_dir() and not data.is_symlink() and not any(data.iterdir()):
        data.rmdir()
    if not data.exists() and not data.is_symlink():
        data.symlink_to(Path(repeat_dirs[representative - 1].name) / "data", target_is_directory=True)
    return write_summary(cast(Summary, combined), run_dir / "summary.json")
