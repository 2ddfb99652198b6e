"""A realistic synthetic run directory, so reports and the gate are testable without a real run.

The shape is the demo's: a step load over a scaled 2-shard stream (100 records/s per shard) through rates
below and above saturation, a skewed partition key (one hot shard), a linear service time with noise.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from capacity.cold_starts import BENCH_DEFAULT
from capacity.fit import ServiceTimeModel
from capacity.planner import plan
from capacity.quotas import SHARD_WRITE_RECORDS_PER_S
from capacity.scaling_policies import add_day
from capacity.search import PlanInputs, SearchSpace, Slo, Workload
from capacity.traffic import TrafficDay
from reports import measured
from reports.assemble import write_run_summary
from reports.summary import Step, Summary

_START_EPOCH_S = 1_764_115_200  # 2025-11-26T00:00:00Z: fixed so renders are reproducible
_DEMO_SHARD_LIMIT_SCALE = 0.1  # the demo's scale model of a shard
_SHARD_LIMIT_RPS = _DEMO_SHARD_LIMIT_SCALE * SHARD_WRITE_RECORDS_PER_S
_HOT_SHARD_SHARE = 0.6
_SERVICE_TIME = {"a_ms": 40.0, "b_ms_per_record": 1.6, "c_ms_per_kib": 0.9}
_RECORD_BYTES = 420.0
_DESIGN_RATE_RPS = 300.0  # the rate the sample recommendation is sized for


def _iso(epoch_s: float) -> str:
    return dt.datetime.fromtimestamp(epoch_s, tz=dt.UTC).isoformat().replace("+00:00", "Z")


def _load_seconds(rng: np.random.Generator, steps: list[float], step_s: int, shards: int) -> pd.DataFrame:
    rows = []
    capacity_rps = shards * _SHARD_LIMIT_RPS * (1 - _HOT_SHARD_SHARE + 0.5)  # hot shard throttles first
    for step_index, rate in enumerate(steps):
        for second in range(step_s):
            offered = int(rng.poisson(rate))
            accepted = min(offered, int(rng.normal(capacity_rps, 3)))
            throttled = offered - accepted
            rows.append(
                {
                    "epoch_s": _START_EPOCH_S + step_index * step_s + second,
                    "step": step_index,
                    "target_rps": rate,
                    "offered": offered,
                    "accepted": accepted,
                    "throttled": throttled,
                    "failed": 0,
                    "retried": throttled,
                    "dropped": 0,
                    "put_latency_p50_ms": float(rng.normal(8 + rate / 40, 0.5)),
                    "put_latency_p99_ms": float(rng.normal(25 + rate / 10, 2)),
                    "schedule_lag_ms": float(abs(rng.normal(2, 1))),
                }
            )
    return pd.DataFrame(rows)


def _invocations(rng: np.random.Generator, load: pd.DataFrame, shards: int) -> pd.DataFrame:
    rows = []
    backlog = [0.0] * shards
    invocation = 0
    for _, second in load.iterrows():
        for shard in range(shards):
            share = _HOT_SHARD_SHARE if shard == 0 else (1 - _HOT_SHARD_SHARE) / max(shards - 1, 1)
            backlog[shard] += second["accepted"] * share
            batch = int(min(backlog[shard], 100))
            if batch == 0:
                continue
            backlog[shard] -= batch
            kib = batch * _RECORD_BYTES / 1024
            duration = (
                _SERVICE_TIME["a_ms"]
                + _SERVICE_TIME["b_ms_per_record"] * batch
                + _SERVICE_TIME["c_ms_per_kib"] * kib
                + rng.normal(0, 6)
            )
            age_ms = 200 + backlog[shard] / max(second["accepted"] * share, 1) * 1000
            start_ms = int(second["epoch_s"] * 1000 + rng.integers(0, 300))
            e2e_p50 = age_ms + duration * 0.7
            rows.append(
                {
                    "invocation_id": f"inv-{invocation:06d}",
                    "shard_id": f"shardId-{shard:012d}",
                    "lane": 0,
                    "attempt": 1,
                    "start_epoch_ms": start_ms,
                    "end_epoch_ms": start_ms + int(duration),
                    "duration_ms": round(max(duration, 1.0), 2),
                    "batch_records": batch,
                    "batch_bytes": int(batch * _RECORD_BYTES),
                    "iterator_age_ms": round(age_ms, 1),
                    "oldest_arrival_epoch_ms": start_ms - int(age_ms) - 900,
                    "newest_arrival_epoch_ms": start_ms - int(age_ms),
                    "e2e_p50_ms": round(e2e_p50, 1),
                    "e2e_p99_ms": round(e2e_p50 * 1.4 + 300, 1),
                    "e2e_max_ms": round(e2e_p50 * 1.5 + 400, 1),
                    "outcome": "ok",
                    "failed_items": 0,
                }
            )
            invocation += 1
    return pd.DataFrame(rows)


def _metrics(invocations: pd.DataFrame) -> pd.DataFrame:
    per_second = invocations.assign(epoch_s=invocations["start_epoch_ms"] // 1000)
    grouped = per_second.groupby(["epoch_s", "shard_id"])
    frames = [
        grouped["iterator_age_ms"].max().rename("value").reset_index().assign(metric="IteratorAge"),
        grouped["duration_ms"].mean().rename("value").reset_index().assign(metric="Duration"),
        grouped["invocation_id"].count().rename("value").reset_index().assign(metric="Invocations"),
    ]
    return pd.concat(frames)[["epoch_s", "metric", "value", "shard_id"]]


def _cost_curve(recommended_shards: int) -> list[dict[str, Any]]:
    return [
        # kinesis shard-hours scale with n; the rest (1,525.58 USD, DynamoDB most of it) does not
        {"shards": n, "monthly_cost_usd": round(7.3 * n + 1525.58, 2), "feasible": n >= recommended_shards}
        for n in range(1, 9)
    ]


def _predictions(step_rows: list[Step]) -> list[dict[str, Any]]:
    """A model that is off by 5-10 % per step, alternating sides, like a decent fit, each p99 with an 80%
    interval from -10 % to +12 % of its central value (as capacity.validate.predict_steps gives them)."""
    predictions = []
    for step in step_rows:
        age = round(step["iterator_age_p99_ms"] * (1.08 if step["step"] % 2 else 0.93), 1)
        e2e = round(step["e2e_p99_ms"] * (0.9 if step["step"] % 2 else 1.05), 1)
        predictions.append(
            {
                "step": step["step"],
                "predicted_iterator_age_p99_ms": age,
                "predicted_iterator_age_p99_lo_ms": round(age * 0.9, 1),
                "predicted_iterator_age_p99_hi_ms": round(age * 1.12, 1),
                "predicted_e2e_p99_ms": e2e,
                "predicted_e2e_p99_lo_ms": round(e2e * 0.9, 1),
                "predicted_e2e_p99_hi_ms": round(e2e * 1.12, 1),
                "replications": 21,
            }
        )
    return predictions


def _recommendation() -> dict[str, Any]:
    breakdown = {
        "kinesis_shard_hours": 21.9,
        "kinesis_put_payload_units": 6.12,
        "kinesis_output_shard_hours": 7.3,
        "kinesis_output_put_payload_units": 5.9,
        "lambda_requests": 1.04,
        "lambda_duration": 4.37,
        "dynamodb_writes": 1480.5,
        "s3_puts": 2.1,
        "s3_storage": 3.4,
        "sqs_dlq": 0.2,
        "eventbridge_alerts": 0.6,
        "cloudwatch_logs": 1.1,
        "cloudwatch_metrics": 12.3,
        "kms_requests": 0.11,
    }
    candidate = {"parallelization_factor": 2, "batch_size": 200, "batching_window_s": 0.5, "memory_mb": 512}
    return {
        "shards": 3,
        "output_shards": 1,
        **candidate,
        "architecture": "arm64",
        "stream_mode": "PROVISIONED",
        "consumer_mode": "shared",
        "monthly_cost_usd": round(sum(breakdown.values()), 2),
        "cost_breakdown_usd": breakdown,
        "binding_constraint": (
            "shard write limit: the hot shard takes 60% of keys, so 3 shards keep it below 80% of "
            "1,000 records/s"
        ),
        "predicted": {
            "iterator_age_p99_ms": 850.0,
            "iterator_age_max_ms": 1400.0,
            "e2e_latency_p50_ms": 620.0,
            "e2e_latency_p99_ms": 1900.0,
            "utilisation": 0.62,
        },
        "runner_ups": [
            {"shards": 4, **candidate, "parallelization_factor": 1, "monthly_cost_usd": 1554.9},
            {"shards": 3, **candidate, "memory_mb": 1024, "monthly_cost_usd": 1547.8},
        ],
        "resharding_path": [{"from_shards": 2, "to_shards": 3}],
        "at_plus_50pct": {"shards": 5, **candidate, "monthly_cost_usd": 2318.3},
        "slo": {"e2e_p99_ms": 5000.0, "iterator_age_max_ms": 10000.0, "headroom_factor": 1.3},
        "cost_curve": _cost_curve(3),
    }


def _plan_details() -> dict[str, Any]:
    """What the planner checked: the resource use it priced and one quota check per sink (one failing)."""
    url = "https://docs.aws.amazon.com/"
    checks = [
        ("kinesis", "input: records/s on the hottest shard", 234.0, 1000, True),
        ("kinesis", "output: records/s on the hottest shard", 390.0, 1000, True),
        ("lambda", "concurrent executions (shards x PF)", 6, 1000, True),
        ("dynamodb", "table write units/s (on-demand table quota)", 2169.5, 2000, False),
        ("sqs", "dead-letter SendMessageBatch requests/s (standard queue)", 2.4, None, True),
    ]
    rows: list[dict[str, Any]] = [
        {"service": s, "quota": q, "required": r, "limit": lim, "ok": ok, "source": url}
        for s, q, r, lim, ok in checks
    ]
    rows[3] |= {"remedy": "a table throughput quota increase (adjustable)", "over_by": 1.08}
    return {
        "resource_use_per_cdr": {
            "dynamodb_write_units": 5.563,
            "dynamodb_read_units": 0.001,
            "output_records": 1.0,
            "output_put_payload_units": 1.0,
            "output_bytes": 610.0,
            "s3_puts": 0.002,
            "s3_bytes": 120.0,
            "sqs_billed_requests": 0.006,
            "eventbridge_events": 0.002,
            "log_bytes": 2.6,
            "source": "measured by run sample (handler EMF in handler.log, 480 invocations, 40,000 CDRs)",
        },
        "quota_checks": rows,
        "dynamodb_capacity_modes": {
            "cheaper": "provisioned",
            "on_demand_usd": 1480.5,
            "provisioned_usd": 790.0,
            "provisioned_wcu": 2480,
            "provisioned_rcu": 2,
            "note": "provisioned saves money only while the load stays near the plan's rate",
        },
        **_scaling_policies(),
    }


def _scaling_policies() -> dict[str, Any]:
    """The policies compared over a telecom day at the design rate: quiet at 04:00, busy at 19:00, and a
    10-minute storm at 8x the busy hour at midnight, as the demo profile's `scaling_day` draws it; and the
    plan's cold starts over that day under the recommended policy."""
    minutes = np.arange(24 * 60)
    shape = 0.55 - 0.45 * np.cos(2 * np.pi * (minutes - 4 * 60) / (24 * 60))
    shape = np.maximum(shape, 0.1) / shape.max()
    shape[:10] = 8.0
    day = TrafficDay(_START_EPOCH_S, 60, np.round(shape * _DESIGN_RATE_RPS * 60), "a sample diurnal day")
    service = ServiceTimeModel(_SERVICE_TIME["a_ms"], _SERVICE_TIME["b_ms_per_record"], 0.0)
    workload = Workload(rate_rps=day.peak_rps, record_bytes=_RECORD_BYTES)
    result = plan(service, workload, Slo(), SearchSpace(), include_plus_50pct=False)
    details = result.details
    add_day(details, result.recommendation, PlanInputs(service, workload), day, BENCH_DEFAULT)
    return {key: details[key] for key in ("scaling_policies", "cold_starts", "provisioned_concurrency")}


def _cost_side(per_million: dict[str, float]) -> dict[str, Any]:
    return {
        "per_million_cdrs_usd": round(sum(per_million.values()), 4),
        "breakdown_per_million_cdrs_usd": per_million,
    }


def _run_cost(breakdown: dict[str, float]) -> dict[str, Any]:
    """Metered vs predicted per million CDRs of the configuration that ran (2 shards at ~200 records/s)."""
    cdrs_per_month = 200.0 * 730 * 3600 / 1e6
    predicted = _cost_side({item: round(usd / cdrs_per_month, 4) for item, usd in breakdown.items()})
    metered = _cost_side(
        {
            item: round(value * (1.06 if item.startswith("s3") else 1.02), 4)
            for item, value in predicted["breakdown_per_million_cdrs_usd"].items()
        }
    )
    difference = abs(predicted["per_million_cdrs_usd"] - metered["per_million_cdrs_usd"])
    return {
        "configuration": {
            "shards": 2,
            "parallelization_factor": 1,
            "batch_size": 100,
            "batching_window_s": 1.0,
            "memory_mb": 512,
            "output_shards": 1,
            "rate_rps": 200.0,
        },
        "metered": metered,
        "predicted": predicted,
        "relative_difference": round(difference / metered["per_million_cdrs_usd"], 4),
        "how": "synthetic: the predicted breakdown, S3 metered 6% and the rest 2% higher",
    }


def write_sample_run(
    run_dir: Path, *, seed: int = 7, steps: tuple[float, ...] = (80, 160, 240, 320), step_s: int = 45
) -> Path:
    """Write data/{load_seconds,invocations,metrics}.csv and summary.json into run_dir; returns run_dir."""
    rng = np.random.default_rng(seed)
    shards = 2
    data_dir = run_dir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    load = _load_seconds(rng, list(steps), step_s, shards)
    invocations = _invocations(rng, load, shards)
    load.to_csv(data_dir / "load_seconds.csv", index=False)
    invocations.to_csv(data_dir / "invocations.csv", index=False)
    _metrics(invocations).to_csv(data_dir / "metrics.csv", index=False)
    recommendation = _recommendation()
    write_run_summary(
        run_dir,
        started_at=_iso(_START_EPOCH_S),
        finished_at=_iso(_START_EPOCH_S + len(load)),
        metadata={
            "target": {
                "name": "local",
                "region": "us-east-1",
                "is_local": True,
                "endpoint_url": "http://127.0.0.1:4566",
            },
            "versions": {"cdrcap": "0.1.0", "python": "3.11.9", "boto3": "1.35.0", "ministack": "1.5.33"},
            "git_commit": "0123456789abcdef0123456789abcdef01234567",
            "config": {"profile": "demo", "shards": shards, "scale": 0.1, "batch_size": 100},
        },
        profile={
            "name": "demo",
            "shape": "step",
            "steps": list(steps),
            "record_bytes": _RECORD_BYTES,
            "step_duration_s": step_s,
            "scale": _DEMO_SHARD_LIMIT_SCALE,
            "design_rate_rps": _DESIGN_RATE_RPS,
            "stack": {"shards": shards, "scale": _DEMO_SHARD_LIMIT_SCALE},
        },
        service_time_model={**_SERVICE_TIME, "r2": 0.94, "n_invocations": len(invocations)},
        recommendation=recommendation,
        predictions=_predictions(measured.steps(load, invocations)),
        design_rate_rps=_DESIGN_RATE_RPS,
        plan_inputs={
            "rate_rps": _DESIGN_RATE_RPS,
            "record_bytes": _RECORD_BYTES,
            "partition_key": "hot",
            "hot_key_share": _HOT_SHARD_SHARE,
            "current_shards": shards,
            "scale": _DEMO_SHARD_LIMIT_SCALE,
            "cold_start": BENCH_DEFAULT.to_dict(),
        },
        plan_details=_plan_details(),
        run_cost=_run_cost(recommendation["cost_breakdown_usd"]),
    )
    return run_dir


def sample_summary(tmp_dir: Path) -> Summary:
    """The summary of a fresh sample run written under tmp_dir (a convenience for tests)."""
    from reports.summary import load_summary

    return load_summary(write_sample_run(tmp_dir / "sample-run"))
