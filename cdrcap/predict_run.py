"""The model's per-step predictions for a run: from what `cdrcap run` measured (stages.analyse), or again
from a saved run directory (its data tables), so the validation can re-predict stored runs with the
current model without running the stack again."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from capacity import skew
from capacity.arrivals import Arrivals
from capacity.fit import (
    ServiceTimeModel,
    cold_start_ms,
    deviations_with_sizes,
    dispatch_gaps_ms,
    duration_cv,
    fit_service_time,
    window_factors,
)
from capacity.model import ReadPath
from capacity.recorded import RecordedArrivals, stall_gap_s
from capacity.runtime_samples import (
    ProducerSeconds,
    pause_ends,
    runtime_samples,
    stall_spans,
)
from capacity.validate import predict_steps
from cdrcap.errors import CdrcapError
from infra.local.esm.telemetry import GET_RECORDS_LATENCY
from loadgen.pacing import TARGET_CALL_INTERVAL_S
from loadgen.producer import RetryPolicy
from reports import measured
from reports.summary import Step


def _longest_backoff_s(policy: RetryPolicy) -> float:
    """The longest a throttled call's retries keep its producer from putting: every back-off at its cap."""
    return sum(min(policy.max_delay_s, policy.base_delay_s * 2**a) for a in range(1, policy.max_attempts))


RETRY_BACKOFF_S = _longest_backoff_s(RetryPolicy())  # 1.5 s with the load generator's defaults


def key_distribution(partition_key: str, hot_key_share: float) -> skew.KeyDistribution:
    if partition_key == "hot":
        return skew.hot_key(hot_key_share)
    return skew.uniform()


def predict_run_steps(
    service: ServiceTimeModel,
    invocations: pd.DataFrame,
    steps: list[Step],
    config_that_ran: dict[str, Any],
    *,
    record_bytes: float,
    read: ReadPath,
    keys: skew.KeyDistribution,
    producers: int = 0,
    recorded: RecordedArrivals | None = None,
    empirical_deviations: bool = True,
    by_step_and_size: bool = True,
    polls: pd.DataFrame | None = None,
    per_call: bool = True,
    load_seconds: pd.DataFrame | None = None,
    pause_rule: bool = False,
) -> list[dict[str, Any]]:
    """capacity.validate.predict_steps with everything the run measured: the accepted rate and window of
    each step, the spread around the fit, the per-step factors, the first-invocation excess, the arrivals.

    `empirical_deviations`: each simulated invocation deviates from the fit by a draw from the run's own
    deviations (capacity.fit.duration_deviations, heavy tail included); False: a log-normal with the run's
    robust CV (capacity.fit.duration_cv), which has no heavy tail. `by_step_and_size`: each draw from the
    same step's invocations of a similar batch size, added as excess time (capacity.simulate
    .DeviationPools); False: from all of the run's, as a ratio (the model before 2026-12-03, for
    comparison). `polls`: the local runtime's GetRecords calls (capacity.measure POLL_COLUMNS); with
    them and the trace's due/sent times each simulated call and batch draws its times from the step's
    measured ones (capacity/runtime_samples.py); `per_call` False leaves both out (the model before,
    for comparison). `load_seconds`: the load generator's per-second table; with it and `pause_rule` a
    long arrival gap whose puts were answered at once and sent on time (or late only from the back-off
    of throttled puts) is the producer's own pause, not a stall (capacity.runtime_samples.pause_gaps).
    Off by default: it reads the gaps right (the empty GetRecords calls of the scale-0.1 runs), but the
    simulator's poller already comes back empty ~2x too often at scale 1.0, and with the rule two fresh
    validation runs had 2 of 28 points fewer inside their intervals (docs/capacity.md "Stall or
    pause")."""
    windows = [(s["start_epoch_s"], s["end_epoch_s"]) for s in steps]
    producer = ProducerSeconds.of(load_seconds) if pause_rule else None
    shard_id, stalls = None, (np.array([]), np.array([]))
    if recorded is not None and read.prefetch:
        # Gaps in the replayed arrivals longer than the producer's call interval are stalls of the local
        # stack, not empty polls (capacity.recorded.stall_gap_s), unless the producer's own record shows
        # the host answering and the producer pausing (capacity.runtime_samples.pause_gaps).
        read = replace(read, stall_gap_s=stall_gap_s(recorded, producers, TARGET_CALL_INTERVAL_S))
        ends = pause_ends(recorded.shard_epoch_s, read.stall_gap_s, producer, RETRY_BACKOFF_S)
        recorded = replace(recorded, pause_ends_epoch_s=ends)
        shard_id = recorded.shard_id
        stalls = stall_spans(recorded.shard_epoch_s, read.stall_gap_s, producer, RETRY_BACKOFF_S)
    deviations, sizes, in_step = (
        deviations_with_sizes(invocations, service, windows) if empirical_deviations else ((), (), ())
    )
    runtime = None
    if per_call and read.prefetch:
        runtime = runtime_samples(
            pd.DataFrame() if polls is None else polls, invocations, windows, shard_id, stalls
        )
    return predict_steps(
        service,
        config_that_ran,
        [
            {
                "step": s["step"],
                "rate_rps": s["accepted_rps"],
                "start_epoch_s": s["start_epoch_s"],
                "end_epoch_s": s["end_epoch_s"],
            }
            for s in steps
        ],
        record_bytes=record_bytes,
        read=read,
        keys=keys,
        service_cv=duration_cv(invocations, service),
        cold_start_ms=cold_start_ms(invocations, service),
        service_factors=window_factors(invocations, service, windows),
        arrivals=Arrivals(producers, TARGET_CALL_INTERVAL_S) if producers else None,
        recorded=recorded,
        service_deviations=tuple(deviations),
        service_deviation_records=tuple(sizes) if by_step_and_size else (),
        service_deviation_steps=tuple(int(k) for k in in_step),
        dispatch_gaps_ms=tuple(
            dispatch_gaps_ms(
                invocations,
                int(config_that_ran["batch_size"]),
                float(config_that_ran["batching_window_s"]),
                read.poll_busy_s + read.delivery_s,
            )
            if read.prefetch
            else ()
        ),
        runtime=runtime,
    )


def measured_read_path(read: ReadPath, metrics: pd.DataFrame) -> ReadPath:
    """The local runtime's read path with its measured mean GetRecords call time as the delivery delay."""
    if not read.prefetch:
        return read
    latency_ms = metrics.loc[metrics["metric"] == GET_RECORDS_LATENCY, "value"]
    if latency_ms.empty:
        return read
    return replace(read, delivery_s=float(latency_ms.mean()) / 1000.0)


def repredict(
    run_dir: Path,
    *,
    users: int = 4,
    empirical_deviations: bool = True,
    per_call: bool = True,
    pause_rule: bool = False,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A saved local run's summary and its steps predicted again with the current model, from its data
    tables (invocations, load seconds, metrics, recorded arrivals). `users`: the load generator's users."""
    try:
        summary = json.loads((run_dir / "summary.json").read_text())
        data = run_dir / "data"
        invocations = pd.read_csv(data / "invocations.csv")
        load_seconds = pd.read_csv(data / "load_seconds.csv")
    except (OSError, ValueError) as error:
        raise CdrcapError(f"{run_dir}: not a saved run with data tables ({error})") from error
    config = summary["profile"]["stack"]
    service = fit_service_time(invocations, memory_mb=int(config["memory_mb"]))
    steps = measured.steps(load_seconds, invocations)
    read = ReadPath.local_runtime()
    if (data / "metrics.csv").exists():
        read = measured_read_path(read, pd.read_csv(data / "metrics.csv"))
    polls = pd.read_csv(data / "polls.csv") if (data / "polls.csv").exists() else None
    recorded = None
    if (data / "recorded_arrivals.csv").exists():
        # Saved before the lane mask counted shared arrival times, a PF > 1 run's lane holds too many.
        arrivals = pd.read_csv(data / "recorded_arrivals.csv")
        recorded = RecordedArrivals.from_mask(
            arrivals["arrival_epoch_s"].to_numpy(dtype=float), arrivals["in_lane"].to_numpy(dtype=bool)
        )
        if "shard_id" in arrivals.columns and not arrivals.empty:
            recorded = replace(recorded, shard_id=str(arrivals["shard_id"].iloc[0]))
    profile = summary["profile"]
    predictions = predict_run_steps(
        service,
        invocations,
        steps,
        config,
        record_bytes=float(profile["record_bytes"]),
        read=read,
        keys=key_distribution(profile.get("partition_key", "subscriber"), profile.get("hot_key_share", 0.0)),
        producers=users,
        recorded=recorded,
        empirical_deviations=empirical_deviations,
        polls=polls,
        per_call=per_call,
        load_seconds=load_seconds,
        pause_rule=pause_rule,
    )
    return summary, predictions
