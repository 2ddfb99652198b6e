"""The measured blocks of summary.json, computed from a run's data tables (load_seconds, invocations).

Definitions (docs/report.md says the same):
- a step's rates are the means of its seconds; the run's rates are totals over the load's seconds;
- saturation_rps is the highest per-step accepted rate: the throughput ceiling the run reached (a lower bound
  when no step throttled);
- sustained_accepted_rps is the highest per-step accepted rate among "healthy" steps: throttle ratio at most
  1 % and IteratorAge p99 within the SLO. It is what the release gate watches;
- throttled counts entry-attempts refused (retries included), so throttled_rps can exceed offered_rps; the
  throttle ratio is throttled / (accepted + throttled + failed) attempts;
- end-to-end percentiles come from per-invocation summaries (e2e_p50_ms, e2e_p99_ms, e2e_max_ms) weighted by
  batch size: an approximation of per-record percentiles that errs high for p99.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from capacity.intervals import INTERVAL_LEVEL, Interval, coverage
from capacity.measurability import p99_measurable, unmeasurable_note
from capacity.validate import ape  # one APE definition (and its 1 ms floor) for the report and the model
from reports.summary import HandlerDuration, ModelError, ModelErrorStep, Percentiles, Step, Throughput

HEALTHY_THROTTLE_RATIO = 0.01
# AWS prices a month as 730 hours; capacity/quotas.py is the home of this number once it lands.
HOURS_PER_MONTH = 730
# An APE against a ~0 ms measurement is meaningless; measure errors against at least this much.


def _weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    if values.size == 0:
        return 0.0
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    index = int(np.searchsorted(cumulative, q * cumulative[-1], side="left"))
    return float(values[order][min(index, values.size - 1)])


def percentiles(values: Sequence[float] | np.ndarray) -> Percentiles:
    array = np.asarray(values, dtype=float)
    if array.size == 0:
        return {"p50": 0.0, "p90": 0.0, "p99": 0.0, "max": 0.0}
    p50, p90, p99 = np.percentile(array, [50, 90, 99])
    return {"p50": float(p50), "p90": float(p90), "p99": float(p99), "max": float(array.max())}


def e2e_percentiles(invocations: pd.DataFrame) -> Percentiles:
    weights = invocations["batch_records"].to_numpy(dtype=float)
    return {
        "p50": _weighted_quantile(invocations["e2e_p50_ms"].to_numpy(dtype=float), weights, 0.5),
        "p90": _weighted_quantile(invocations["e2e_p99_ms"].to_numpy(dtype=float), weights, 0.9),
        "p99": _weighted_quantile(invocations["e2e_p99_ms"].to_numpy(dtype=float), weights, 0.99),
        "max": float(invocations["e2e_max_ms"].max()) if not invocations.empty else 0.0,
    }


def handler_duration(invocations: pd.DataFrame) -> HandlerDuration:
    durations = invocations["duration_ms"].to_numpy(dtype=float)
    if durations.size == 0:
        return {"p50": 0.0, "p99": 0.0, "mean": 0.0}
    p50, p99 = np.percentile(durations, [50, 99])
    return {"p50": float(p50), "p99": float(p99), "mean": float(durations.mean())}


def steps(load_seconds: pd.DataFrame, invocations: pd.DataFrame) -> list[Step]:
    result: list[Step] = []
    for _, group in load_seconds.groupby("step", sort=True):
        start_s, end_s = float(group["epoch_s"].min()), float(group["epoch_s"].max()) + 1
        started_ms = invocations["start_epoch_ms"]
        inside = invocations[(started_ms >= start_s * 1000) & (started_ms < end_s * 1000)]
        e2e = e2e_percentiles(inside)
        ages = inside["iterator_age_ms"].to_numpy(dtype=float)
        row: Step = {
            "step": int(group["step"].iloc[0]),
            "rate_rps": float(group["target_rps"].iloc[0]),
            "start_epoch_s": start_s,
            "end_epoch_s": end_s,
            "offered_rps": float(group["offered"].mean()),
            "accepted_rps": float(group["accepted"].mean()),
            "throttled_rps": float(group["throttled"].mean()),
            "iterator_age_p99_ms": float(np.percentile(ages, 99)) if ages.size else 0.0,
            "e2e_p50_ms": e2e["p50"],
            "e2e_p99_ms": max(e2e["p99"], e2e["p50"]),
            "invocations": len(inside),
        }
        if "dropped" in group:
            row["dropped_rps"] = float(group["dropped"].mean())
        if "failed" in group:
            # Every put attempt ends accepted, throttled or failed (the throttle ratio's denominator).
            row["attempts_rps"] = float((group["accepted"] + group["throttled"] + group["failed"]).mean())
        result.append(row)
    return result


def throughput(load_seconds: pd.DataFrame, step_rows: list[Step], iterator_age_slo_ms: float) -> Throughput:
    seconds = max(len(load_seconds), 1)
    healthy = [
        s["accepted_rps"]
        for s in step_rows
        if s["throttled_rps"] <= HEALTHY_THROTTLE_RATIO * max(s["accepted_rps"] + s["throttled_rps"], 1e-9)
        and s["iterator_age_p99_ms"] <= iterator_age_slo_ms
    ]
    return {
        "offered_rps": float(load_seconds["offered"].sum()) / seconds,
        "accepted_rps": float(load_seconds["accepted"].sum()) / seconds,
        "throttled_rps": float(load_seconds["throttled"].sum()) / seconds,
        "sustained_accepted_rps": max(healthy, default=0.0),
        "saturation_rps": max((s["accepted_rps"] for s in step_rows), default=0.0),
    }


def throttle_ratio(load_seconds: pd.DataFrame) -> float:
    """Share of put attempts the stream refused. `throttled` counts entry-attempts (a record retried three
    times and throttled each time counts 3, as AWS's WriteProvisionedThroughputExceeded does), so the
    denominator is attempts (accepted + throttled + failed), not records offered."""
    throttled = float(load_seconds["throttled"].sum())
    failed = float(load_seconds["failed"].sum()) if "failed" in load_seconds else 0.0
    attempts = float(load_seconds["accepted"].sum()) + throttled + failed
    return throttled / attempts if attempts > 0 else 0.0


def _interval(prediction: Mapping[str, Any], metric: str) -> Interval | None:
    """The prediction's 80% interval of one metric, or None (predictions made before intervals)."""
    low = prediction.get(f"predicted_{metric}_p99_lo_ms")
    high = prediction.get(f"predicted_{metric}_p99_hi_ms")
    if low is None or high is None:
        return None
    central = float(prediction[f"predicted_{metric}_p99_ms"])
    return Interval(
        central,
        float(low),
        float(high),
        int(prediction.get("replications") or 0),
        float(prediction.get("interval_log_margin") or 0.0),
    )


def model_error(predictions: Sequence[Mapping[str, Any]], step_rows: list[Step]) -> ModelError:
    """Per-step absolute percentage errors of the model's predictions (keyed by step) vs the measurements,
    and, when the predictions carry 80% intervals, each interval and whether the measurement fell inside.

    Each prediction: {step, predicted_iterator_age_p99_ms, predicted_e2e_p99_ms}, optionally with
    predicted_<metric>_p99_lo_ms / _hi_ms and replications (capacity.validate.predict_steps).
    """
    measured = {s["step"]: s for s in step_rows}
    per_step: list[ModelErrorStep] = []
    pairs: list[tuple[Interval, float]] = []
    for prediction in predictions:
        step = measured.get(int(prediction["step"]))
        if step is None:
            continue
        age, e2e = (
            float(prediction["predicted_iterator_age_p99_ms"]),
            float(prediction["predicted_e2e_p99_ms"]),
        )
        ape_age, ape_e2e = ape(age, step["iterator_age_p99_ms"]), ape(e2e, step["e2e_p99_ms"])
        entry: ModelErrorStep = {
            "step": step["step"],
            "rate_rps": step["rate_rps"],
            "predicted_iterator_age_p99_ms": age,
            "measured_iterator_age_p99_ms": step["iterator_age_p99_ms"],
            "predicted_e2e_p99_ms": e2e,
            "measured_e2e_p99_ms": step["e2e_p99_ms"],
            "ape_iterator_age": math.nan if ape_age is None else ape_age,
            "ape_e2e": math.nan if ape_e2e is None else ape_e2e,
        }
        if "invocations" in step:
            entry["invocations"] = step["invocations"]
            entry["p99_measurable"] = p99_measurable(step["invocations"])
        for metric, key in (("iterator_age", "iterator_age_p99_ms"), ("e2e", "e2e_p99_ms")):
            interval = _interval(prediction, metric)
            if interval is None:
                continue
            entry[f"predicted_{metric}_p99_lo_ms"] = interval.low  # type: ignore[literal-required]
            entry[f"predicted_{metric}_p99_hi_ms"] = interval.high  # type: ignore[literal-required]
            entry[f"inside_interval_{metric}"] = interval.contains(step[key])  # type: ignore[literal-required]
            entry["interval_log_margin"] = interval.log_margin
            pairs.append((interval, step[key]))  # type: ignore[literal-required]
        per_step.append(entry)
    apes = [e[k] for e in per_step for k in ("ape_iterator_age", "ape_e2e") if math.isfinite(e[k])]
    result: ModelError = {
        "per_step": per_step,
        "median_ape": float(np.median(apes)) if apes else 0.0,
        "max_ape": max(apes, default=0.0),
    }
    if pairs:
        covered = coverage(pairs)
        result["interval_level"] = INTERVAL_LEVEL
        result["interval_coverage"] = covered.share_inside
        result["interval_median_relative_width"] = covered.median_relative_width
    return result


def measurability_notes(step_rows: Sequence[Step]) -> list[str]:
    """A note for every step with too few invocations for its p99s (capacity/measurability.py's rule)."""
    return [
        unmeasurable_note(s["step"], s["invocations"], s["end_epoch_s"] - s["start_epoch_s"])
        for s in step_rows
        if "invocations" in s and not p99_measurable(s["invocations"])
    ]


def cost_per_million_cdrs(monthly_cost_usd: float, records_per_s: float) -> float:
    """What a million CDRs cost at a steady `records_per_s` with the recommended deployment."""
    monthly_records = records_per_s * HOURS_PER_MONTH * 3600
    return monthly_cost_usd / monthly_records * 1e6 if monthly_records > 0 else 0.0
