"""Assemble and write a run's summary.json from its data tables plus what the run knows (metadata, the
fitted model, the plan). `cdrcap run` calls `write_run_summary`, then `reports.render.render_run`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from reports import SUMMARY_SCHEMA, measured
from reports.data import INVOCATIONS_COLUMNS, LOAD_SECONDS_COLUMNS, read_table
from reports.errors import ReportInputError
from reports.noise import noise_from_tables
from reports.scrub import scrub
from reports.summary import Percentiles, Summary, validate_summary, write_summary

_E2E_COLUMNS = ("e2e_p50_ms", "e2e_p99_ms", "e2e_max_ms")


def _table(run_dir: Path, name: str, columns: tuple[str, ...]) -> pd.DataFrame:
    """A data table, or an empty one with the right columns (a run stopped early still gets a summary)."""
    frame = read_table(run_dir / "data", name, columns, [])
    return frame if frame is not None else pd.DataFrame({column: [] for column in columns})


def _put_latency(load_seconds: pd.DataFrame) -> Percentiles:
    """From per-second p50/p99 columns: the median second's p50, and the p90/p99/max over per-second p99s."""
    if "put_latency_p50_ms" not in load_seconds or load_seconds.empty:
        return measured.percentiles([])
    p99s = load_seconds["put_latency_p99_ms"].to_numpy(dtype=float)
    return {
        "p50": float(np.median(load_seconds["put_latency_p50_ms"].to_numpy(dtype=float))),
        "p90": float(np.percentile(p99s, 90)),
        "p99": float(np.percentile(p99s, 99)),
        "max": float(p99s.max()),
    }


def assemble_summary(
    run_dir: Path,
    *,
    started_at: str,
    finished_at: str,
    metadata: Mapping[str, Any],
    profile: Mapping[str, Any],
    service_time_model: Mapping[str, Any],
    recommendation: Mapping[str, Any],
    predictions: Sequence[Mapping[str, Any]],
    design_rate_rps: float,
    put_latency_ms: Percentiles | None = None,
    measured_via: str = "trace",
    plan_inputs: Mapping[str, Any] | None = None,
    plan_details: Mapping[str, Any] | None = None,
    run_cost: Mapping[str, Any] | None = None,
    run_id: str | None = None,
) -> Summary:
    """The whole summary. `metadata` is cdrcap.rundir.run_metadata(...) (target, versions, git_commit,
    config); `profile` holds at least name, shape, steps, record_bytes; `predictions` are the model's
    per-step {step, predicted_iterator_age_p99_ms, predicted_e2e_p99_ms}; `design_rate_rps` is the rate the
    recommendation was sized for (it prices a million CDRs). `run_id`: default the directory's name (a
    repeat's directory is `repeat-<k>`, so its id names the run too: the noise seed must differ per run).
    """
    load_seconds = _table(run_dir, "load_seconds", LOAD_SECONDS_COLUMNS)
    invocations = _table(run_dir, "invocations", INVOCATIONS_COLUMNS + _E2E_COLUMNS)
    step_rows = measured.steps(load_seconds, invocations)
    slo_age_ms = float(recommendation["slo"]["iterator_age_max_ms"])
    run_id = run_id or run_dir.name
    summary = {
        **metadata,
        "schema": SUMMARY_SCHEMA,
        "run_id": run_id,
        "started_at": started_at,
        "finished_at": finished_at,
        "profile": dict(profile),
        "throughput": measured.throughput(load_seconds, step_rows, slo_age_ms),
        "throttle_ratio": measured.throttle_ratio(load_seconds),
        "put_latency_ms": put_latency_ms or _put_latency(load_seconds),
        "iterator_age_ms": measured.percentiles(invocations["iterator_age_ms"].to_numpy(dtype=float)),
        "handler_duration_ms": measured.handler_duration(invocations),
        "e2e_latency_ms": measured.e2e_percentiles(invocations),
        "service_time_model": dict(service_time_model),
        "recommendation": dict(recommendation),
        "model_error": measured.model_error(predictions, step_rows),
        "steps": step_rows,
        "measured_via": measured_via,
        "cost_per_million_cdrs_usd": measured.cost_per_million_cdrs(
            float(recommendation["monthly_cost_usd"]), design_rate_rps
        ),
    }
    notes = measured.measurability_notes(step_rows)
    if notes:
        summary["notes"] = notes
    # The gate's noise: carried in the summary so a promoted baseline (a summary alone) keeps it.
    noise = noise_from_tables(load_seconds, invocations, run_id=run_id, slo_age_ms=slo_age_ms)
    if noise is not None:
        summary["noise"] = noise
    if plan_inputs is not None:
        summary["plan_inputs"] = dict(plan_inputs)
    if plan_details is not None:
        summary["plan_details"] = dict(plan_details)
    if run_cost is not None or plan_inputs is not None:
        summary["run_cost"] = dict(run_cost) if run_cost else None
        summary["metered_cost_per_million_cdrs_usd"] = (
            run_cost["metered"]["per_million_cdrs_usd"] if run_cost else None
        )
        summary["predicted_cost_per_million_cdrs_usd_as_ran"] = (
            run_cost["predicted"]["per_million_cdrs_usd"] if run_cost else None
        )
    return cast(Summary, scrub(summary))


def write_run_summary(run_dir: Path, **parts: Any) -> Path:
    """assemble_summary(run_dir, **parts), validated, written to run_dir/summary.json.

    Raises ReportInputError listing every problem if the assembled summary breaks the contract.
    """
    summary = assemble_summary(run_dir, **parts)
    problems = validate_summary(summary)
    if problems:
        raise ReportInputError(
            f"{run_dir / 'summary.json'}: the assembled summary is malformed: {'; '.join(problems)}"
        )
    return write_summary(summary, run_dir / "summary.json")
