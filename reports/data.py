"""Read a run directory's data tables (data/*.csv or *.parquet) for plotting, tolerating absent ones.

A missing, empty or column-short table is None plus a note, never an exception: a partial run (Ctrl-C,
a crashed step) still gets a report that says what is missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from reports.summary import CostCurvePoint, Summary

LOAD_SECONDS_COLUMNS = ("epoch_s", "step", "target_rps", "offered", "accepted", "throttled")
INVOCATIONS_COLUMNS = (
    "shard_id",
    "start_epoch_ms",
    "duration_ms",
    "batch_records",
    "batch_bytes",
    "iterator_age_ms",
)
METRICS_COLUMNS = ("epoch_s", "metric", "value", "shard_id")
# The planner's priced candidates: one row per candidate (extra columns such as memory_mb are kept).
PLAN_CANDIDATES_COLUMNS = ("shards", "monthly_cost_usd", "feasible")


@dataclass
class RunData:
    load_seconds: pd.DataFrame | None
    invocations: pd.DataFrame | None
    metrics: pd.DataFrame | None
    plan_candidates: pd.DataFrame | None
    notes: list[str] = field(default_factory=list)


def read_table(data_dir: Path, name: str, columns: tuple[str, ...], notes: list[str]) -> pd.DataFrame | None:
    for suffix, reader in ((".parquet", pd.read_parquet), (".csv", pd.read_csv)):
        path = data_dir / f"{name}{suffix}"
        if not path.exists():
            continue
        try:
            frame = reader(path)
        except (ValueError, OSError, pd.errors.ParserError) as error:
            notes.append(f"data/{path.name}: unreadable ({error})")
            return None
        missing = [column for column in columns if column not in frame.columns]
        if missing:
            notes.append(f"data/{path.name}: missing columns {', '.join(missing)}")
            return None
        if frame.empty:
            notes.append(f"data/{path.name}: no rows")
            return None
        return frame
    notes.append(f"data/{name}.csv: not found")
    return None


def _cost_curve(summary: Summary, data_dir: Path, notes: list[str]) -> pd.DataFrame | None:
    """Candidates from data/plan_candidates.csv, else from recommendation.cost_curve in the summary."""
    scratch: list[str] = []
    frame = read_table(data_dir, "plan_candidates", PLAN_CANDIDATES_COLUMNS, scratch)
    if frame is not None:
        return frame
    curve: list[CostCurvePoint] = summary["recommendation"].get("cost_curve", [])
    if curve:
        return pd.DataFrame(curve)
    notes.append("no planner candidates (data/plan_candidates.csv or recommendation.cost_curve)")
    return None


def load_run_data(run_dir: Path, summary: Summary) -> RunData:
    data_dir = run_dir / "data"
    notes: list[str] = []
    return RunData(
        load_seconds=read_table(data_dir, "load_seconds", LOAD_SECONDS_COLUMNS, notes),
        invocations=read_table(data_dir, "invocations", INVOCATIONS_COLUMNS, notes),
        metrics=read_table(data_dir, "metrics", METRICS_COLUMNS, notes),
        plan_candidates=_cost_curve(summary, data_dir, notes),
        notes=notes,
    )
