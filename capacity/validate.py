"""Validation of the model against measured runs: predict each load step, compare, report the error.

`predict_steps` simulates the hottest lane of the configuration that ran, through the measured step rates
in order (a backlog built in one step carries into the next), and `model_error` turns predictions and
measurements into the summary.json `model_error` block: absolute percentage error (APE) per step and
metric, with the median and the maximum over all of them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from capacity.arrivals import Arrivals
from capacity.errors import CapacityError
from capacity.fit import ServiceTimeModel
from capacity.intervals import REPLICATIONS, predicted
from capacity.model import ReadPath
from capacity.recorded import RecordedArrivals
from capacity.runtime_samples import RuntimeSamples
from capacity.simulate import LaneSimConfig, simulate_lane
from capacity.skew import KeyDistribution, uniform

APE_FLOOR_MS = 1.0


def ape(predicted: float | None, measured: float | None, floor_ms: float = APE_FLOOR_MS) -> float | None:
    """|predicted - measured| / max(measured, floor); None when either is missing or not finite.

    The floor keeps a ~0 ms measurement (a caught-up lane's iterator age) from making the error infinite;
    reports/measured.py's model_error uses this function, so the report and the validation agree.
    """
    if predicted is None or measured is None or not math.isfinite(predicted) or not math.isfinite(measured):
        return None
    return abs(predicted - measured) / max(abs(measured), floor_ms)


def predict_steps(
    service: ServiceTimeModel,
    config: dict[str, Any],
    steps: Sequence[dict[str, Any]],
    *,
    record_bytes: float,
    read: ReadPath,
    keys: KeyDistribution | None = None,
    seed: int = 0,
    repeats: int = REPLICATIONS,
    service_cv: float = 0.0,
    arrivals: Arrivals | None = None,
    service_factors: Sequence[float] = (),
    cold_start_ms: float = 0.0,
    recorded: RecordedArrivals | None = None,
    service_deviations: Sequence[float] = (),
    service_deviation_records: Sequence[float] = (),
    service_deviation_steps: Sequence[int] = (),
    dispatch_gaps_ms: Sequence[float] = (),
    runtime: RuntimeSamples | None = None,
) -> list[dict[str, Any]]:
    """Predicted p99 iterator age and e2e latency per step for the configuration that ran, each a central
    value (`predicted_<metric>_p99_ms`, the median of `repeats` replications) and an 80% interval
    (`predicted_<metric>_p99_lo_ms` / `_hi_ms`, their 10th and 90th percentiles; capacity/intervals.py).

    `config` has shards, parallelization_factor, batch_size, batching_window_s and memory_mb; each step has
    step, rate_rps (the ACCEPTED rate) and duration_s (or start_epoch_s and end_epoch_s). For runs of the
    local stack pass `read=ReadPath.local_runtime()` (its poller reads ahead of the invocations).
    The predictions are the statistics reports/measured.py takes from the trace (SimResult.as_traced), over
    the same windows: every batch sent within the step, warm-up included, as the measurement has it.
    `service_cv` is the coefficient of variation of the handler's duration around the fitted line;
    `arrivals` how the load reached the stream (default Poisson; the load generator's paced calls for runs
    driven by it); `service_factors`, one per step, how much slower than the fit the handler ran in that
    step (capacity.fit.window_factors; a shared host slows it when the load generator is busy);
    `cold_start_ms` the extra time of a lane's first invocation (capacity.fit.cold_start_ms);
    `service_deviations` the measured deviations from the fit (capacity.fit.duration_deviations), drawn
    instead of the log-normal of `service_cv` when given, each from the same step's batches of a similar
    size, as excess time, when `service_deviation_records` and `_steps` (their batch sizes and step
    indexes) are given too (capacity.simulate.DeviationPools); `dispatch_gaps_ms` the local runtime's
    measured time between a lane's invocations when its next batch was waiting (capacity.fit
    .dispatch_gaps_ms), drawn after every invocation; `runtime` the local runtime's per-call
    measurements (GetRecords call times, poll-to-invoke times; capacity/runtime_samples.py), each
    simulated call and batch drawing from its step's;
    `recorded` the busiest lane's real arrivals (capacity/recorded.py), replayed instead of generated ones
    (the steps then need start_epoch_s).
    """
    keys = keys or uniform()
    shards, pf = int(config["shards"]), int(config["parallelization_factor"])
    lanes = keys.lane_shares(shards, pf)
    hottest_shard, _ = np.unravel_index(int(np.argmax(lanes)), lanes.shape)
    lane_share = float(lanes.max())
    scaled = service.at_memory(int(config.get("memory_mb", service.memory_mb)))
    profile: list[tuple[float, float]] = []
    for step in steps:
        duration_s = step.get("duration_s")
        if duration_s is None:
            duration_s = float(step["end_epoch_s"]) - float(step["start_epoch_s"])
        if duration_s <= 0:
            raise CapacityError(f"step {step.get('step')} has a non-positive duration {duration_s}")
        profile.append((float(duration_s), float(step["rate_rps"]) * lane_share))
    replay = None
    if recorded is not None:
        origin_s = float(steps[0]["start_epoch_s"])
        lane_s, shard_s = recorded.lane_epoch_s - origin_s, recorded.shard_epoch_s - origin_s
        replay = (lane_s[lane_s >= 0], shard_s[shard_s >= 0])
        pause_ends = np.asarray(recorded.pause_ends_epoch_s, dtype=float) - origin_s
        read = replace(read, pause_ends_s=tuple(pause_ends.tolist()))
    lane_config = LaneSimConfig(
        batch_size=int(config["batch_size"]),
        batching_window_s=float(config["batching_window_s"]),
        service_ms=(scaled.a_ms, scaled.b_ms_per_record, scaled.c_ms_per_kib),
        record_bytes=record_bytes,
        read=read,
        shard_rate_factor=float(lanes[hottest_shard].sum()) / lane_share,
        service_cv=service_cv,
        arrivals=arrivals or Arrivals(),
        stream_rate_factor=1.0 / lane_share,
        service_factors=tuple(service_factors),
        cold_start_ms=cold_start_ms,
        service_deviations=tuple(service_deviations),
        service_deviation_records=tuple(service_deviation_records),
        service_deviation_steps=tuple(service_deviation_steps),
        dispatch_gaps_ms=tuple(dispatch_gaps_ms),
        runtime=runtime or RuntimeSamples(),
    )
    # A replication is one seed: one phase of the poller against the arrivals (where an empty poll falls
    # and costs the idle second), one draw of every invocation's deviation from the fit, and (without a
    # recording) one draw of the arrivals. The step's p99 varies with them as a measured one does.
    runs = [simulate_lane(lane_config, profile, seed=seed + k, replay=replay) for k in range(max(repeats, 1))]
    predictions = []
    start_s = 0.0
    for step, (duration_s, _) in zip(steps, profile, strict=True):
        traced = [sim.as_traced(start_s, start_s + duration_s) for sim in runs]
        age = predicted(t["iterator_age_p99_ms"] for t in traced)
        e2e = predicted(t["e2e_p99_ms"] for t in traced)
        predictions.append(
            {
                "step": step.get("step"),
                "rate_rps": float(step["rate_rps"]),
                "predicted_iterator_age_p99_ms": age.central,
                "predicted_iterator_age_p99_lo_ms": age.low,
                "predicted_iterator_age_p99_hi_ms": age.high,
                "predicted_e2e_p99_ms": e2e.central,
                "predicted_e2e_p99_lo_ms": e2e.low,
                "predicted_e2e_p99_hi_ms": e2e.high,
                "replications": age.replications,
                "interval_log_margin": age.log_margin,
            }
        )
        start_s += duration_s
    return predictions
