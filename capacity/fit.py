"""Service-time fit S(n, bytes) = a + b*n + c*KiB of the handler, and its scaling with Lambda memory.

The fit is robust (Huber loss) so that cold starts and retries do not drag the line. It takes the
per-invocation trace (local runtime) or per-minute averages (CloudWatch), weighted by invocations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from capacity import quotas
from capacity.errors import CapacityError

MIN_INVOCATIONS = 5
ROBUST_PASSES = 4
BYTES_TERM_MIN_R2_GAIN = 0.02  # the byte term must explain this much more variance to be kept
IQR_PER_SIGMA = 1.349  # interquartile range of a normal distribution, in standard deviations


def formula(a_ms: float, b_ms_per_record: float, c_ms_per_kib: float = 0.0) -> str:
    """`a ms + b ms/record (+ c ms/KiB)`: the fit as every output prints it (the byte term only when kept).

    With KPL aggregation the byte term can carry the whole fit (a record is an aggregate of varying size),
    so printing a and b alone would read "0.0 ms + 0.000 ms/record".
    """
    text = f"{a_ms:.1f} ms + {b_ms_per_record:.3f} ms/record"
    return text + (f" + {c_ms_per_kib:.3f} ms/KiB" if c_ms_per_kib else "")


@dataclass(frozen=True)
class ServiceTimeModel:
    """Handler duration of one invocation, in ms, for a batch of n records of total size KiB."""

    a_ms: float
    b_ms_per_record: float
    c_ms_per_kib: float = 0.0
    r2: float = float("nan")
    residual_p90_abs_ms: float = float("nan")
    n_invocations: int = 0
    memory_mb: int = quotas.LAMBDA_MB_PER_VCPU  # memory the measurements were taken at

    def duration_ms(self, records: Any, kib: Any = 0.0) -> Any:
        """Duration of an invocation; works element-wise on numpy arrays."""
        return self.a_ms + self.b_ms_per_record * records + self.c_ms_per_kib * kib

    def at_memory(self, memory_mb: int, *, cpu_bound_fraction: float = 1.0) -> ServiceTimeModel:
        """An ESTIMATE of the same handler at another memory size.

        Lambda allocates CPU in proportion to memory (1,769 MB = one vCPU). A single-threaded handler gets
        faster up to one vCPU and no faster beyond; only the CPU-bound fraction of the time scales (I/O
        waits to DynamoDB, S3 and Kinesis do not).
        """
        if not quotas.LAMBDA_MEMORY_MB_MIN <= memory_mb <= quotas.LAMBDA_MEMORY_MB_MAX:
            raise CapacityError(
                f"memory {memory_mb} MB is outside {quotas.LAMBDA_MEMORY_MB_MIN}-"
                f"{quotas.LAMBDA_MEMORY_MB_MAX} MB"
            )
        factor = memory_time_factor(self.memory_mb, memory_mb, cpu_bound_fraction)
        return ServiceTimeModel(
            a_ms=self.a_ms * factor,
            b_ms_per_record=self.b_ms_per_record * factor,
            c_ms_per_kib=self.c_ms_per_kib * factor,
            r2=self.r2,
            residual_p90_abs_ms=self.residual_p90_abs_ms * factor,
            n_invocations=self.n_invocations,
            memory_mb=memory_mb,
        )

    def formula(self) -> str:
        return formula(self.a_ms, self.b_ms_per_record, self.c_ms_per_kib)

    def to_dict(self) -> dict[str, Any]:
        """The summary.json `service_time_model` shape (plus the spread and the memory it holds for)."""
        return {
            "a_ms": self.a_ms,
            "b_ms_per_record": self.b_ms_per_record,
            "c_ms_per_kib": self.c_ms_per_kib,
            "r2": self.r2,
            "n_invocations": self.n_invocations,
            "residual_p90_abs_ms": self.residual_p90_abs_ms,
            "memory_mb": self.memory_mb,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ServiceTimeModel:
        try:
            return cls(
                a_ms=float(data["a_ms"]),
                b_ms_per_record=float(data["b_ms_per_record"]),
                c_ms_per_kib=float(data.get("c_ms_per_kib") or 0.0),
                r2=float(data.get("r2", float("nan"))),
                residual_p90_abs_ms=float(data.get("residual_p90_abs_ms", float("nan"))),
                n_invocations=int(data.get("n_invocations", 0)),
                memory_mb=int(data.get("memory_mb") or quotas.LAMBDA_MB_PER_VCPU),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise CapacityError(f"service_time_model {data!r} lacks a_ms/b_ms_per_record: {error}") from error


def memory_time_factor(from_mb: int, to_mb: int, cpu_bound_fraction: float = 1.0) -> float:
    """Multiplier on duration when moving a single-threaded handler from `from_mb` to `to_mb` of memory."""
    if not 0.0 <= cpu_bound_fraction <= 1.0:
        raise CapacityError(f"cpu_bound_fraction {cpu_bound_fraction} must be within 0..1")
    share_from = min(from_mb, quotas.LAMBDA_MB_PER_VCPU) / quotas.LAMBDA_MB_PER_VCPU
    share_to = min(to_mb, quotas.LAMBDA_MB_PER_VCPU) / quotas.LAMBDA_MB_PER_VCPU
    return (1.0 - cpu_bound_fraction) + cpu_bound_fraction * share_from / share_to


def fit_service_time(
    trace: pd.DataFrame,
    *,
    use_bytes: bool = True,
    memory_mb: int = quotas.LAMBDA_MB_PER_VCPU,
    weights_column: str | None = None,
) -> ServiceTimeModel:
    """Robust fit of duration_ms ~ a + b*batch_records (+ c*batch_bytes/1024).

    `trace` has the invocation-trace columns (duration_ms, batch_records, batch_bytes); rows that are not
    successful first attempts are left out when `outcome` is present. For CloudWatch per-minute averages
    pass one row per minute with the averages and `weights_column="invocations"`.
    """
    missing = {"duration_ms", "batch_records"} - set(trace.columns)
    if missing:
        raise CapacityError(f"trace lacks columns {sorted(missing)} needed for the service-time fit")
    rows = trace
    if "outcome" in rows.columns:
        rows = rows[rows["outcome"].isin(["ok", "partial"])]
    rows = rows.dropna(subset=["duration_ms", "batch_records"])
    rows = rows[rows["batch_records"] > 0]
    if len(rows) < MIN_INVOCATIONS:
        raise CapacityError(
            f"only {len(rows)} usable invocations; the fit needs at least {MIN_INVOCATIONS} (run longer)"
        )
    y = rows["duration_ms"].to_numpy(dtype=float)
    n = rows["batch_records"].to_numpy(dtype=float)
    columns = [np.ones_like(n), n]
    with_bytes = use_bytes and "batch_bytes" in rows.columns and rows["batch_bytes"].notna().all()
    if with_bytes:
        kib = rows["batch_bytes"].to_numpy(dtype=float) / 1024.0
        # Bytes and records are nearly collinear when records have one size; then c is not identifiable.
        if np.std(kib / np.maximum(n, 1.0)) < 1e-6 * max(float(np.mean(kib / np.maximum(n, 1.0))), 1.0):
            with_bytes = False
        else:
            columns.append(kib)
    weights = np.ones_like(y) if weights_column is None else rows[weights_column].to_numpy(dtype=float)
    params, r2, residuals = _robust_fit(np.column_stack(columns), y, weights)
    if with_bytes:
        # Records and bytes are often nearly collinear: keep the byte term only when it explains more.
        records_only, r2_records, residuals_records = _robust_fit(np.column_stack(columns[:2]), y, weights)
        if not r2 > r2_records + BYTES_TERM_MIN_R2_GAIN:
            params, r2, residuals, with_bytes = records_only, r2_records, residuals_records, False
    return ServiceTimeModel(
        a_ms=float(params[0]),
        b_ms_per_record=float(params[1]),
        c_ms_per_kib=float(params[2]) if with_bytes else 0.0,
        r2=r2,
        residual_p90_abs_ms=float(np.percentile(np.abs(residuals), 90)),
        n_invocations=int(weights.sum()) if weights_column else len(rows),
        memory_mb=memory_mb,
    )


def _robust_fit(
    design: np.ndarray, y: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, float, np.ndarray]:
    """Huber-loss fit with non-negative coefficients; returns (params, weighted R², residuals)."""
    sqrt_w = np.sqrt(np.maximum(weights, 0.0))
    params, *_ = np.linalg.lstsq(design * sqrt_w[:, None], y * sqrt_w, rcond=None)
    # The bounds hold during the fit (a negative cost per record is noise, not physics); clamping after an
    # unconstrained fit would leave the other coefficients fitted to the wrong model.
    params = np.maximum(params, 0.0)
    # Huber loss with its scale re-estimated from the robust residuals (MAD): a few passes stop cold
    # starts and retries from inflating the scale the first least-squares pass would give.
    for _ in range(ROBUST_PASSES):
        scale = max(float(np.median(np.abs(y - design @ params))) * 1.4826, 1e-3)
        params = least_squares(
            lambda p: (design @ p - y) * sqrt_w,
            params,
            loss="huber",
            f_scale=scale,
            method="trf",
            bounds=(0.0, np.inf),
        ).x
    residuals = y - design @ params
    total = float(np.sum(weights * (y - np.average(y, weights=weights)) ** 2))
    r2 = 1.0 - float(np.sum(weights * residuals**2)) / total if total > 0 else float("nan")
    return params, r2, residuals


def _kib(rows: pd.DataFrame) -> Any:
    """The rows' batch KiB for the fitted line; 0 when unknown (rows read from logs carry no bytes)."""
    if "batch_bytes" not in rows or rows["batch_bytes"].isna().any():
        return 0.0
    return rows["batch_bytes"].to_numpy(dtype=float) / 1024.0


def _log_ratios(trace: pd.DataFrame, model: ServiceTimeModel) -> tuple[pd.DataFrame, np.ndarray]:
    """Successful invocations and log(measured / fitted duration) of each."""
    rows = trace
    if "outcome" in rows.columns:
        rows = rows[rows["outcome"].isin(["ok", "partial"])]
    rows = rows[(rows["batch_records"] > 0) & (rows["duration_ms"] > 0)]
    fitted = model.duration_ms(rows["batch_records"].to_numpy(dtype=float), _kib(rows))
    return rows, np.log(rows["duration_ms"].to_numpy(dtype=float) / np.maximum(fitted, 1e-3))


def window_factors(
    trace: pd.DataFrame, model: ServiceTimeModel, windows_epoch_s: list[tuple[float, float]]
) -> list[float]:
    """Per time window, the median of measured / fitted duration of the invocations that started in it
    (1 for a window without any): how much slower or faster the handler ran then than the run's fit."""
    rows, log_ratio = _log_ratios(trace, model)
    started_s = rows["start_epoch_ms"].to_numpy(dtype=float) / 1000.0
    factors = []
    for start_s, end_s in windows_epoch_s:
        inside = (started_s >= start_s) & (started_s < end_s)
        factors.append(float(np.exp(np.median(log_ratio[inside]))) if inside.any() else 1.0)
    return factors


def cold_start_ms(trace: pd.DataFrame, model: ServiceTimeModel) -> float:
    """How much longer than the fit each lane's FIRST invocation took (a fresh environment: clients,
    connections, caches), the median over lanes; 0 without lane columns or when first calls were faster.
    Rows read from the function's logs have no lanes: there each log stream (execution environment) counts."""
    keys = ["log_stream"] if "log_stream" in trace.columns else ["shard_id", "lane"]
    if not {*keys, "start_epoch_ms"} <= set(trace.columns) or trace.empty:
        return 0.0
    firsts = trace.sort_values("start_epoch_ms").groupby(keys, sort=False).head(1)
    if firsts.empty:
        return 0.0
    fitted = model.duration_ms(firsts["batch_records"].to_numpy(dtype=float), _kib(firsts))
    excess = firsts["duration_ms"].to_numpy(dtype=float) - fitted
    return float(max(np.nanmedian(excess), 0.0))


def duration_cv(trace: pd.DataFrame, model: ServiceTimeModel) -> float:
    """The spread of measured durations around the fitted line, as the coefficient of variation of a
    log-normal factor (what capacity.simulate's `service_cv` takes).

    Robust: sigma of log(measured / fitted) from its interquartile range, so a cold start or a retry does not
    set it. Successful invocations only; 0 when there are too few.
    """
    rows, log_ratio = _log_ratios(trace, model)
    if len(rows) < MIN_INVOCATIONS:
        return 0.0
    q1, q3 = np.percentile(log_ratio, [25, 75])
    sigma = float(q3 - q1) / IQR_PER_SIGMA
    return float(np.sqrt(np.expm1(sigma**2)))


def duration_deviations(
    trace: pd.DataFrame, model: ServiceTimeModel, windows_epoch_s: list[tuple[float, float]]
) -> np.ndarray:
    """Each successful invocation's measured / fitted duration, divided by the median of its window (the
    per-step factor of `window_factors`), each lane's first invocation left out (`cold_start_ms` carries
    it): the empirical deviations the simulator can draw an invocation's duration from, heavy tail
    included (a log-normal fitted to the interquartile range has none). Empty without start times, for
    per-minute averages (CloudWatch rows weighted by `invocations`: not single invocations) or when there
    are too few."""
    return deviations_with_sizes(trace, model, windows_epoch_s)[0]


def deviations_with_sizes(
    trace: pd.DataFrame, model: ServiceTimeModel, windows_epoch_s: list[tuple[float, float]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`duration_deviations` and, aligned with them, the batch size (records) of each invocation and the
    index of its window."""
    empty = (np.array([]), np.array([]), np.array([], dtype=int))
    if "start_epoch_ms" not in trace.columns or "invocations" in trace.columns:
        return empty
    rows, log_ratio = _log_ratios(trace, model)
    if len(rows) < MIN_INVOCATIONS:
        return empty
    keys = [k for k in ("shard_id", "lane") if k in rows.columns] or (
        ["log_stream"] if "log_stream" in rows.columns else []
    )
    keep = np.ones(len(rows), dtype=bool)
    if keys:
        first = rows.reset_index(drop=True).sort_values("start_epoch_ms").groupby(keys, sort=False).head(1)
        keep[first.index.to_numpy()] = False
    started_s = rows["start_epoch_ms"].to_numpy(dtype=float) / 1000.0
    records = rows["batch_records"].to_numpy(dtype=float)
    deviations, sizes, windows = [], [], []
    for index, (start_s, end_s) in enumerate(windows_epoch_s):
        inside = keep & (started_s >= start_s) & (started_s < end_s)
        if inside.any():
            deviations.append(np.exp(log_ratio[inside] - np.median(log_ratio[inside])))
            sizes.append(records[inside])
            windows.append(np.full(int(inside.sum()), index))
    if not deviations:
        return empty
    return np.concatenate(deviations), np.concatenate(sizes), np.concatenate(windows)


def dispatch_gaps_ms(trace: pd.DataFrame, batch_size: int, window_s: float, poll_s: float) -> np.ndarray:
    """Per lane, the time from an invocation's end to the lane's next start, where the next batch was
    already waiting: its newest record arrived a poll (`poll_s`) before that end, and the batch was full
    or its oldest record arrived a window and a poll before it. That gap is the runtime's own time per
    invocation (taking the batch, building the event, handing it to a worker), which a backlogged lane
    pays on top of its handler time. With the runtime's due times (trace column due_epoch_ms) the gap
    ends when the next batch was due, the lane free for it: its sending and the worker's start are then
    drawn apart (capacity/runtime_samples.py), so they are not counted twice. Empty without lanes and
    arrival times, or when there are too few."""
    needed = {"shard_id", "lane", "start_epoch_ms", "end_epoch_ms", "batch_records"}
    needed |= {"oldest_arrival_epoch_ms", "newest_arrival_epoch_ms"}
    if not needed <= set(trace.columns):
        return np.array([])
    gaps: list[np.ndarray] = []
    for _, lane in trace.sort_values("start_epoch_ms").groupby(["shard_id", "lane"], sort=False):
        ended = lane["end_epoch_ms"].to_numpy(dtype=float)[:-1]
        nxt = lane.iloc[1:]
        polled = nxt["newest_arrival_epoch_ms"].to_numpy(dtype=float) + poll_s * 1000.0 <= ended
        due = (nxt["batch_records"].to_numpy() >= batch_size) | (
            nxt["oldest_arrival_epoch_ms"].to_numpy(dtype=float) + (window_s + poll_s) * 1000.0 <= ended
        )
        began = nxt["start_epoch_ms"].to_numpy(dtype=float)
        if "due_epoch_ms" in nxt.columns:
            due_ms = nxt["due_epoch_ms"].to_numpy(dtype=float)
            began = np.where(np.isfinite(due_ms), due_ms, began)
        gap = began - ended
        gaps.append(np.maximum(gap[polled & due], 0.0))
    found = np.concatenate(gaps) if gaps else np.array([])
    return found if found.size >= MIN_INVOCATIONS else np.array([])
