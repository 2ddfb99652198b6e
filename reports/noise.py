"""How much a run's gated metrics could have differed by chance: a block bootstrap over the run's samples.

The release gate (reports/compare.py) needs, for each metric, the spread the same build would show on a
second run. This module resamples the run's per-second load rows (data/load_seconds.csv) and its invocations
(data/invocations.csv) within each load step, recomputes each metric with the definitions of
reports/measured.py, and keeps the replicates as offsets from the unresampled value (summary key `noise`).

Blocks, not single rows: a throttled second is followed by retries, a slow invocation by a backlog, so
neighbouring samples move together; resampling runs of BLOCK_SECONDS seconds keeps that, and the spread is
not understated. Seeded from the run id, so the same run always gives the same interval.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict, cast

import numpy as np
import pandas as pd

from reports.data import INVOCATIONS_COLUMNS, LOAD_SECONDS_COLUMNS, read_table
from reports.measured import HEALTHY_THROTTLE_RATIO
from reports.summary import Summary

REPLICATES = 400
# Retries and backlogs correlate neighbouring seconds over a few seconds (the producer's retry back-off, a
# batching window); 5 s blocks keep that correlation inside a block.
BLOCK_SECONDS = 5
# The metrics the bootstrap covers, in compare's units (throttle ratio in percent). Cost per million CDRs
# comes from the plan, not from samples: it is compared as a point.
SAMPLED_METRICS = ("sustained_accepted_rps", "e2e_latency_p99_ms", "iterator_age_max_ms", "throttle_ratio")
NOISE_METHOD = f"moving-block bootstrap within load steps ({BLOCK_SECONDS} s blocks)"


class NoiseBlock(TypedDict):
    """summary.json `noise`: per metric, replicate value minus the run's own value (compare's units)."""

    method: str
    replicates: int
    seed: int
    offsets: dict[str, list[float]]


@dataclass(frozen=True)
class _Stratum:
    """One load step: its seconds in time order and the invocations that started inside it."""

    accepted: np.ndarray
    throttled: np.ndarray
    attempts: np.ndarray
    ages_ms: np.ndarray
    e2e_p99_ms: np.ndarray
    batch_records: np.ndarray


@dataclass(frozen=True)
class RunSamples:
    strata: tuple[_Stratum, ...]
    # Invocations after the last step (the drain): they count in the run's e2e p99 and IteratorAge max.
    tail: _Stratum
    iterator_age_slo_ms: float


def _empty_stratum() -> _Stratum:
    empty = np.zeros(0)
    return _Stratum(empty, empty, empty, empty, empty, empty)


def _invocation_arrays(inside: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    inside = inside.sort_values("start_epoch_ms")
    return (
        inside["iterator_age_ms"].to_numpy(dtype=float),
        inside["e2e_p99_ms"].to_numpy(dtype=float),
        inside["batch_records"].to_numpy(dtype=float),
    )


def samples_from_tables(
    load_seconds: pd.DataFrame, invocations: pd.DataFrame, iterator_age_slo_ms: float
) -> RunSamples:
    strata = []
    started_ms = invocations["start_epoch_ms"]
    claimed = np.zeros(len(invocations), dtype=bool)
    for _, group in load_seconds.sort_values("epoch_s").groupby("step", sort=True):
        start_s, end_s = float(group["epoch_s"].min()), float(group["epoch_s"].max()) + 1
        mask = ((started_ms >= start_s * 1000) & (started_ms < end_s * 1000)).to_numpy()
        claimed |= mask
        failed = group.get("failed", 0)
        accepted = group["accepted"].to_numpy(dtype=float)
        throttled = group["throttled"].to_numpy(dtype=float)
        attempts = (group["accepted"] + group["throttled"] + failed).to_numpy(dtype=float)
        strata.append(_Stratum(accepted, throttled, attempts, *_invocation_arrays(invocations[mask])))
    empty = np.zeros(0)
    tail = _Stratum(empty, empty, empty, *_invocation_arrays(invocations[~claimed]))
    return RunSamples(tuple(strata), tail, iterator_age_slo_ms)


def _block_indices(n: int, block: int, replicates: int, rng: np.random.Generator) -> np.ndarray:
    """(replicates, n) row indices: ceil(n / block) blocks of `block` consecutive rows, truncated to n."""
    if n == 0:
        return np.zeros((replicates, 0), dtype=int)
    block = max(1, min(block, n))
    count = -(-n // block)
    starts = rng.integers(0, n - block + 1, size=(replicates, count))
    return (starts[:, :, None] + np.arange(block)).reshape(replicates, count * block)[:, :n]


def _weighted_p99(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Row-wise measured._weighted_quantile(values, weights, 0.99): first value whose cumulative weight
    reaches 99 % of the row's total."""
    if values.shape[1] == 0:
        return np.zeros(values.shape[0])
    order = np.argsort(values, axis=1, kind="stable")
    sorted_values = np.take_along_axis(values, order, axis=1)
    cumulative = np.cumsum(np.take_along_axis(weights, order, axis=1), axis=1)
    first = np.argmax(cumulative >= 0.99 * cumulative[:, -1:], axis=1)
    return sorted_values[np.arange(values.shape[0]), first]


@dataclass
class _Draws:
    """Per-replicate accumulators, filled stratum by stratum."""

    replicates: int

    def __post_init__(self) -> None:
        self.sustained = np.zeros(self.replicates)
        self.throttled = np.zeros(self.replicates)
        self.attempts = np.zeros(self.replicates)
        self.age_max = np.zeros(self.replicates)
        self.e2e: list[np.ndarray] = []
        self.weights: list[np.ndarray] = []


def _draw_stratum(
    stratum: _Stratum, draws: _Draws, rng: np.random.Generator | None, slo_ms: float, is_step: bool
) -> None:
    replicates, seconds, calls = draws.replicates, stratum.accepted.size, stratum.ages_ms.size
    if rng is None:  # the run's own value: every row once
        rows = np.broadcast_to(np.arange(seconds), (replicates, seconds))
        picks = np.broadcast_to(np.arange(calls), (replicates, calls))
    else:
        rows = _block_indices(seconds, BLOCK_SECONDS, replicates, rng)
        # As many invocations per block as the step has per BLOCK_SECONDS seconds.
        per_block = round(BLOCK_SECONDS * calls / seconds) if seconds else BLOCK_SECONDS
        picks = _block_indices(calls, per_block, replicates, rng)
    ages = stratum.ages_ms[picks]
    if calls:
        draws.age_max = np.maximum(draws.age_max, ages.max(axis=1))
    draws.e2e.append(stratum.e2e_p99_ms[picks])
    draws.weights.append(stratum.batch_records[picks])
    if not is_step or seconds == 0:
        return
    accepted = stratum.accepted[rows].mean(axis=1)
    throttled = stratum.throttled[rows].mean(axis=1)
    draws.throttled += stratum.throttled[rows].sum(axis=1)
    draws.attempts += stratum.attempts[rows].sum(axis=1)
    age_p99 = np.percentile(ages, 99, axis=1) if calls else np.zeros(replicates)
    healthy = (throttled <= HEALTHY_THROTTLE_RATIO * np.maximum(accepted + throttled, 1e-9)) & (
        age_p99 <= slo_ms
    )
    draws.sustained = np.maximum(draws.sustained, np.where(healthy, accepted, 0.0))


def metric_draws(
    samples: RunSamples, replicates: int, rng: np.random.Generator | None
) -> dict[str, np.ndarray]:
    """Each sampled metric over `replicates` resamples (rng=None: the unresampled value, repeated)."""
    draws = _Draws(replicates)
    for stratum in samples.strata:
        _draw_stratum(stratum, draws, rng, samples.iterator_age_slo_ms, is_step=True)
    _draw_stratum(samples.tail, draws, rng, samples.iterator_age_slo_ms, is_step=False)
    ratio = np.divide(draws.throttled, draws.attempts, out=np.zeros(replicates), where=draws.attempts > 0)
    return {
        "sustained_accepted_rps": draws.sustained,
        "e2e_latency_p99_ms": _weighted_p99(np.hstack(draws.e2e), np.hstack(draws.weights)),
        "iterator_age_max_ms": draws.age_max,
        "throttle_ratio": ratio * 100,
    }


def run_seed(run_id: str) -> int:
    """A stable seed per run: the same run always gets the same interval, two runs differ."""
    return zlib.crc32(run_id.encode("utf-8"))


def noise_block(samples: RunSamples, *, seed: int, replicates: int = REPLICATES) -> NoiseBlock:
    own = metric_draws(samples, 1, None)
    resampled = metric_draws(samples, replicates, np.random.default_rng(seed))
    offsets = {name: [round(float(v), 6) for v in resampled[name] - own[name][0]] for name in SAMPLED_METRICS}
    return {"method": NOISE_METHOD, "replicates": replicates, "seed": seed, "offsets": offsets}


def noise_from_tables(
    load_seconds: pd.DataFrame | None, invocations: pd.DataFrame | None, *, run_id: str, slo_age_ms: float
) -> NoiseBlock | None:
    """The run's noise block, or None when it has no per-second or per-invocation samples."""
    if load_seconds is None or invocations is None or load_seconds.empty or invocations.empty:
        return None
    if "e2e_p99_ms" not in invocations or "batch_records" not in invocations:
        return None
    samples = samples_from_tables(load_seconds, invocations, slo_age_ms)
    return noise_block(samples, seed=run_seed(run_id))


def offsets_of(summary: Any) -> dict[str, np.ndarray] | None:
    """The summary's noise offsets as arrays, or None when it has none (older summaries)."""
    block = summary.get("noise") if isinstance(summary, dict) else None
    if not isinstance(block, dict) or not isinstance(block.get("offsets"), dict):
        return None
    return {name: np.asarray(values, dtype=float) for name, values in block["offsets"].items()}


def with_noise(summary: Summary, source: Path) -> Summary:
    """The summary with its noise block: its own, else computed from the data tables beside it (a run
    folder from before summaries carried it); unchanged when there are none (a promoted baseline file)."""
    if "noise" in summary:
        return summary
    run_dir = source if source.is_dir() else source.parent
    notes: list[str] = []
    load_seconds = read_table(run_dir / "data", "load_seconds", LOAD_SECONDS_COLUMNS, notes)
    invocations = read_table(run_dir / "data", "invocations", INVOCATIONS_COLUMNS, notes)
    slo_ms = float(summary["recommendation"]["slo"]["iterator_age_max_ms"])
    noise = noise_from_tables(load_seconds, invocations, run_id=summary["run_id"], slo_age_ms=slo_ms)
    if noise is None:
        return summary
    return cast(Summary, {**summary, "noise": noise})
