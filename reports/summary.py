"""The summary.json wire shape of a run (schema "cdrcap.summary/1") as TypedDicts, and its validation.

The TypedDicts are the contract in /work/shared contracts: `validate_summary` walks them, so the schema is
written once. Keys beyond the contract are allowed (forward compatible); missing or ill-typed ones are not.
"""

import json
from pathlib import Path
from typing import Any, NotRequired, TypedDict, cast

from reports import SUMMARY_SCHEMA
from reports.errors import ReportInputError
from reports.sanity import sanity_problems
from reports.typecheck import type_problems


class TargetInfo(TypedDict):
    name: str
    region: str
    is_local: bool
    endpoint_url: str | None


class ProfileInfo(TypedDict):
    name: str
    shape: str
    steps: list[float]
    record_bytes: float


class Throughput(TypedDict):
    offered_rps: float
    accepted_rps: float
    throttled_rps: float
    sustained_accepted_rps: float
    saturation_rps: float


class Percentiles(TypedDict):
    p50: float
    p90: float
    p99: float
    max: float


class HandlerDuration(TypedDict):
    p50: float
    p99: float
    mean: float


class ServiceTimeModel(TypedDict):
    a_ms: float
    b_ms_per_record: float
    c_ms_per_kib: float
    r2: float
    n_invocations: int


class Predicted(TypedDict):
    iterator_age_p99_ms: float
    iterator_age_max_ms: float
    e2e_latency_p50_ms: float
    e2e_latency_p99_ms: float
    utilisation: float
    # The 80% interval of each p99 over the planner's replications (newer runs; null when unbounded)
    iterator_age_p99_lo_ms: NotRequired[float | None]
    iterator_age_p99_hi_ms: NotRequired[float | None]
    e2e_latency_p99_lo_ms: NotRequired[float | None]
    e2e_latency_p99_hi_ms: NotRequired[float | None]


class Slo(TypedDict):
    e2e_p99_ms: float
    iterator_age_max_ms: float
    headroom_factor: float


class ReshardStep(TypedDict):
    from_shards: int
    to_shards: int


class CostCurvePoint(TypedDict):
    """One candidate the planner priced: the cost-vs-shards plot draws these (reports' own addition)."""

    shards: int
    monthly_cost_usd: float
    feasible: bool


class Candidate(TypedDict):
    shards: int
    parallelization_factor: int
    batch_size: int
    batching_window_s: float
    memory_mb: int
    monthly_cost_usd: float


class Recommendation(TypedDict):
    shards: int
    output_shards: NotRequired[int]
    parallelization_factor: int
    batch_size: int
    batching_window_s: float
    memory_mb: int
    architecture: str
    stream_mode: str
    consumer_mode: str
    monthly_cost_usd: float
    cost_breakdown_usd: dict[str, float]
    binding_constraint: str
    predicted: Predicted
    runner_ups: list[Candidate]
    resharding_path: list[ReshardStep]
    at_plus_50pct: Candidate
    slo: Slo
    cost_curve: NotRequired[list[CostCurvePoint]]
    # The planner's shared-vs-EFO comparison (capacity/consumer_mode.py): per mode feasible,
    # monthly_cost_usd, e2e_latency_p99_ms, best_e2e_latency_p99_ms; winner; sentence.
    consumer_modes: NotRequired[dict[str, Any]]


class ModelErrorStep(TypedDict):
    step: int
    rate_rps: float
    predicted_iterator_age_p99_ms: float
    measured_iterator_age_p99_ms: float
    predicted_e2e_p99_ms: float
    measured_e2e_p99_ms: float
    ape_iterator_age: float
    ape_e2e: float
    # Newer runs: the invocations the step's p99s are over, and whether that is enough for a p99
    # (capacity/measurability.py); the 80% prediction interval of each p99 and whether the measurement fell
    # inside it (capacity/intervals.py). Older summaries lack them.
    invocations: NotRequired[int]
    p99_measurable: NotRequired[bool]
    predicted_iterator_age_p99_lo_ms: NotRequired[float]
    predicted_iterator_age_p99_hi_ms: NotRequired[float]
    inside_interval_iterator_age: NotRequired[bool]
    predicted_e2e_p99_lo_ms: NotRequired[float]
    predicted_e2e_p99_hi_ms: NotRequired[float]
    inside_interval_e2e: NotRequired[bool]
    # the calibrated margin both intervals were widened by, ln units (capacity/interval_calibration.py)
    interval_log_margin: NotRequired[float]


class ModelError(TypedDict):
    per_step: list[ModelErrorStep]
    median_ape: float
    max_ape: float
    # With intervals (newer runs): their level (0.8), the share of measurements inside, the median width
    interval_level: NotRequired[float]
    interval_coverage: NotRequired[float]
    interval_median_relative_width: NotRequired[float]


class Step(TypedDict):
    step: int
    rate_rps: float
    start_epoch_s: float
    end_epoch_s: float
    offered_rps: float
    accepted_rps: float
    throttled_rps: float
    iterator_age_p99_ms: float
    e2e_p50_ms: float
    e2e_p99_ms: float
    # Per record vs per attempt (newer runs): records given up on after the last retry, and put attempts
    # (first sends + re-sends) that throttled_rps is a share of.
    dropped_rps: NotRequired[float]
    attempts_rps: NotRequired[float]
    invocations: NotRequired[int]  # started in the step (newer runs): what its p99s are over


class Versions(TypedDict):
    cdrcap: str
    python: str
    boto3: str
    ministack: NotRequired[str | None]


class Summary(TypedDict):
    schema: str
    run_id: str
    started_at: str
    finished_at: str
    target: TargetInfo
    profile: ProfileInfo
    throughput: Throughput
    throttle_ratio: float
    put_latency_ms: Percentiles
    iterator_age_ms: Percentiles
    handler_duration_ms: HandlerDuration
    e2e_latency_ms: Percentiles
    service_time_model: ServiceTimeModel
    recommendation: Recommendation
    model_error: ModelError
    steps: list[Step]
    cost_per_million_cdrs_usd: float
    # "trace": the local runtime's invocation trace; "cloudwatch": CloudWatch metrics and Logs (the staging
    # path). Older summaries lack it.
    measured_via: NotRequired[str]
    # What the plan was made from and what it checked (cdrcap plan --from re-plans with plan_inputs)
    plan_inputs: NotRequired[dict[str, Any]]
    plan_details: NotRequired[dict[str, Any]]
    # The configuration that ran: its cost metered from what the run consumed vs the model's prediction
    run_cost: NotRequired[dict[str, Any] | None]
    metered_cost_per_million_cdrs_usd: NotRequired[float | None]
    predicted_cost_per_million_cdrs_usd_as_ran: NotRequired[float | None]
    # The release gate's bootstrap offsets per metric (reports/noise.py NoiseBlock)
    noise: NotRequired[dict[str, Any]]
    # Warnings about the run's numbers (newer runs): e.g. steps too short for their p99
    notes: NotRequired[list[str]]
    versions: Versions
    git_commit: str | None
    config: dict[str, Any]


def validate_summary(data: object) -> list[str]:
    """Every problem with a summary, each naming its key path; an empty list means it is sound."""
    problems = type_problems(data, Summary, "")
    if problems:
        # Value checks assume the types hold; report the type problems first, alone.
        return problems
    summary = cast(Summary, data)
    if summary["schema"] != SUMMARY_SCHEMA:
        problems.append(f"schema: expected {SUMMARY_SCHEMA!r}, got {summary['schema']!r}")
    return problems + sanity_problems(summary)


def summary_path(path: Path) -> Path:
    """A run directory or a summary.json path -> the summary.json path."""
    return path / "summary.json" if path.is_dir() else path


def load_summary(path: Path) -> Summary:
    """Read and validate a summary; raises ReportInputError naming the file and the first bad keys."""
    file = summary_path(path)
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReportInputError(f"{file}: no such file (expected a run directory or a summary.json)") from None
    except json.JSONDecodeError as error:
        raise ReportInputError(f"{file}: not valid JSON ({error})") from None
    problems = validate_summary(data)
    if problems:
        shown = "; ".join(problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise ReportInputError(f"{file}: malformed summary: {shown}{more}")
    return cast(Summary, data)


def write_summary(summary: Summary, path: Path) -> Path:
    """Write a summary normalised: sorted keys, two-space indent, trailing newline (diff-friendly)."""
    path.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path
