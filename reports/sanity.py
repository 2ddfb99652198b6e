"""Value checks on a well-typed summary: the numbers must make physical sense, not only parse.

accepted <= offered, percentiles ordered, ratios within [0, 1], durations non-negative, and the
recommendation within what Lambda and Kinesis accept (capacity.quotas).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from capacity import quotas

if TYPE_CHECKING:
    from reports.summary import Summary

# What Lambda accepts for each recommended setting (the event source mapping's and the function's limits).
_LIMITS: dict[str, tuple[float, float]] = {
    "parallelization_factor": (quotas.ESM_PARALLELIZATION_FACTOR_MIN, quotas.ESM_PARALLELIZATION_FACTOR_MAX),
    "batch_size": (quotas.ESM_BATCH_SIZE_MIN, quotas.ESM_BATCH_SIZE_MAX),
    "batching_window_s": (quotas.ESM_BATCHING_WINDOW_S_MIN, quotas.ESM_BATCHING_WINDOW_S_MAX),
    "memory_mb": (quotas.LAMBDA_MEMORY_MB_MIN, quotas.LAMBDA_MEMORY_MB_MAX),
}
_ARCHITECTURES = ("arm64", "x86_64")
_STREAM_MODES = ("PROVISIONED", "ON_DEMAND")
MEASURED_VIA = ("trace", "cloudwatch")
# A cost breakdown is rounded per line; allow a cent per line plus 0.5 % before calling it inconsistent.
_COST_TOLERANCE_REL = 0.005
# A tiny slack for accepted <= offered: rates are averages over slightly different windows.
_RATE_SLACK_REL = 1e-6


def _ordered(values: Mapping[str, Any], keys: Iterable[str], path: str) -> list[str]:
    keys = list(keys)
    problems = []
    for low, high in itertools.pairwise(keys):
        if values[low] > values[high]:
            problems.append(
                f"{path}: {low} ({values[low]}) > {high} ({values[high]}); percentiles must be ordered"
            )
    return problems


def _non_negative(values: Mapping[str, Any], path: str) -> list[str]:
    return [
        f"{path}.{key}: negative ({value})"
        for key, value in values.items()
        if isinstance(value, int | float) and not isinstance(value, bool) and value < 0
    ]


def _not_above(values: Mapping[str, Any], low: str, high: str, path: str) -> list[str]:
    if values[low] > values[high] * (1 + _RATE_SLACK_REL):
        return [f"{path}: {low} ({values[low]}) > {high} ({values[high]})"]
    return []


def sanity_problems(summary: Summary) -> list[str]:
    """Every value problem of a summary whose types already hold."""
    problems: list[str] = []
    if summary.get("measured_via", "trace") not in MEASURED_VIA:
        problems.append(
            f"measured_via: {summary.get('measured_via')!r} is not one of {', '.join(MEASURED_VIA)}"
        )
    throughput = summary["throughput"]
    problems += _non_negative(throughput, "throughput")
    problems += _not_above(throughput, "accepted_rps", "offered_rps", "throughput")
    # throttled_rps counts attempts (retries included): it may exceed offered_rps, so no bound here.
    if not 0 <= summary["throttle_ratio"] <= 1:
        problems.append(f"throttle_ratio: {summary['throttle_ratio']} is not within [0, 1]")
    for key in ("put_latency_ms", "iterator_age_ms", "e2e_latency_ms"):
        problems += _non_negative(summary[key], key)
        problems += _ordered(summary[key], ("p50", "p90", "p99", "max"), key)
    problems += _non_negative(summary["handler_duration_ms"], "handler_duration_ms")
    problems += _ordered(summary["handler_duration_ms"], ("p50", "p99"), "handler_duration_ms")
    model = summary["service_time_model"]
    if model["r2"] > 1:
        problems.append(f"service_time_model.r2: {model['r2']} > 1")
    if model["n_invocations"] < 0:
        problems.append(f"service_time_model.n_invocations: negative ({model['n_invocations']})")
    for index, step in enumerate(summary["steps"]):
        path = f"steps[{index}]"
        problems += _non_negative(step, path)
        problems += _not_above(step, "accepted_rps", "offered_rps", path)
        problems += _ordered(step, ("e2e_p50_ms", "e2e_p99_ms"), path)
        if step["end_epoch_s"] < step["start_epoch_s"]:
            problems.append(f"{path}: end_epoch_s before start_epoch_s")
    if summary["finished_at"] < summary["started_at"]:
        problems.append("finished_at: before started_at")
    if summary["cost_per_million_cdrs_usd"] < 0:
        problems.append(f"cost_per_million_cdrs_usd: negative ({summary['cost_per_million_cdrs_usd']})")
    for index, entry in enumerate(summary["model_error"]["per_step"]):
        problems += _non_negative(entry, f"model_error.per_step[{index}]")
    return problems + _recommendation_problems(summary)


def _recommendation_problems(summary: Summary) -> list[str]:
    rec = summary["recommendation"]
    problems: list[str] = []
    if rec["shards"] < 1:
        problems.append(f"recommendation.shards: {rec['shards']} < 1")
    for key, (low, high) in _LIMITS.items():
        value = rec[key]  # type: ignore[literal-required]
        if not low <= value <= high:
            problems.append(f"recommendation.{key}: {value} is outside the allowed [{low:g}, {high:g}]")
    if rec["architecture"] not in _ARCHITECTURES:
        problems.append(
            f"recommendation.architecture: {rec['architecture']!r} is not one of {_ARCHITECTURES}"
        )
    if rec["stream_mode"] not in _STREAM_MODES:
        problems.append(f"recommendation.stream_mode: {rec['stream_mode']!r} is not one of {_STREAM_MODES}")
    if rec["monthly_cost_usd"] < 0:
        problems.append(f"recommendation.monthly_cost_usd: negative ({rec['monthly_cost_usd']})")
    breakdown = rec["cost_breakdown_usd"]
    if breakdown:
        total = sum(breakdown.values())
        tolerance = 0.01 * len(breakdown) + _COST_TOLERANCE_REL * rec["monthly_cost_usd"]
        if abs(total - rec["monthly_cost_usd"]) > tolerance:
            problems.append(
                f"recommendation.cost_breakdown_usd: sums to {total:.2f}, "
                f"not monthly_cost_usd {rec['monthly_cost_usd']:.2f}"
            )
    predicted = rec["predicted"]
    problems += _non_negative(predicted, "recommendation.predicted")
    problems += _ordered(predicted, ("e2e_latency_p50_ms", "e2e_latency_p99_ms"), "recommendation.predicted")
    problems += _ordered(
        predicted, ("iterator_age_p99_ms", "iterator_age_max_ms"), "recommendation.predicted"
    )
    return problems
