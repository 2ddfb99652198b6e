"""Discrete-event simulator of one Kinesis -> Lambda lane, for percentiles, bursts and recovery.

Same semantics as the analytic model (capacity/model.py), event by event: Poisson arrivals following a
rate-over-time profile, records visible after the delivery delay, a fetch `poll_busy_s` after the lane
frees and then every `poll_idle_s` while nothing is pending (Lambda's 1 s base poll; GetRecords'
5 calls/s shared by every polling consumer), a batch that closes at the batch size, the batching window or
the 6 MB payload, a service time S(n) with optional log-normal noise, and whole-batch retries.
Events are batches, not records: arrivals are generated vectorised and one loop step handles one batch.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from capacity.arrivals import POISSON, Arrivals, shard_arrivals
from capacity.model import ReadPath, effective_batch_size
from capacity.runtime_samples import RuntimeSamples

# Measured deviations are drawn from batches of a similar size (the quarter of the run's invocations
# nearest in size) and added as excess time (DeviationPools).
DEVIATION_SIZE_CLASSES = 4
MIN_SERVICE_SHARE = 0.2  # the fastest a batch can run, relative to its fitted time, with additive draws
PAUSE_MATCH_S = 1e-6  # a producer pause's end matches a replayed arrival within this (both shifted the same)


@dataclass(frozen=True)
class LaneSimConfig:
    """One lane's configuration for the simulator; service times in ms, S(n) = a + b*n + c*KiB."""

    batch_size: int
    batching_window_s: float
    service_ms: tuple[float, float, float]
    record_bytes: float
    read: ReadPath
    service_cv: float = 0.0  # coefficient of variation of the service time (log-normal)
    error_rate: float = 0.0  # probability that an invocation fails and the batch is retried
    max_retries: int = 2
    shard_rate_factor: float = 1.0  # shard rate / this lane's rate (the poll schedule is per shard)
    arrivals: Arrivals = POISSON  # or the load generator's paced calls
    # Per profile step, a factor on S(n) for batches sent in that step (a handler slowed by a busy host);
    # empty: 1 everywhere.
    service_factors: tuple[float, ...] = ()
    cold_start_ms: float = 0.0  # extra time of the lane's first invocation (a fresh execution environment)
    stream_rate_factor: float = 0.0  # stream rate / this lane's rate (paced calls are per stream); 0: shard
    # Measured deviations from the fitted duration (capacity.fit.duration_deviations), each invocation's
    # factor drawn from them instead of the log-normal of `service_cv`; empty: the log-normal.
    service_deviations: tuple[float, ...] = ()
    # The batch size and the profile step of each measured deviation: with the sizes, a batch draws from
    # its step's measured batches of a similar size, as excess time (DeviationPools).
    service_deviation_records: tuple[float, ...] = ()
    service_deviation_steps: tuple[int, ...] = ()
    # Measured times (ms) between a lane's invocation ending and its next one starting while the next
    # batch was already waiting (capacity.fit.dispatch_gaps_ms): the runtime's own per-invocation time,
    # drawn for every batch; empty: 0.
    dispatch_gaps_ms: tuple[float, ...] = ()
    # The local runtime's per-call measurements (capacity/runtime_samples.py): each simulated GetRecords
    # call's time, and each batch's due -> sent -> start times, drawn from the same step's; empty: the
    # read path's fixed delivery_s and none.
    runtime: RuntimeSamples = field(default_factory=RuntimeSamples)


@dataclass(frozen=True)
class SimResult:
    """Per-record and per-batch outcomes; times in seconds from the start of the profile."""

    arrival_s: np.ndarray
    e2e_s: np.ndarray
    batch_close_s: np.ndarray
    batch_records: np.ndarray
    iterator_age_s: np.ndarray
    busy_s: float
    # Per batch, the nearest-rank p50/p99 of its records' e2e: what the invocation trace records.
    batch_e2e_p50_s: np.ndarray
    batch_e2e_p99_s: np.ndarray
    duration_s: float
    profile_s: float

    def summary(self, start_s: float = 0.0, end_s: float = math.inf) -> dict[str, float]:
        """Percentiles (ms) of records arriving and batches closing in [start_s, end_s).

        Batches closing after the profile ends are left out: the drain of the last window is not load.
        """
        end_s = min(end_s, self.profile_s)
        records = (self.arrival_s >= start_s) & (self.arrival_s < end_s)
        batches = (self.batch_close_s >= start_s) & (self.batch_close_s < end_s)
        e2e_ms = self.e2e_s[records] * 1000.0
        age_ms = self.iterator_age_s[batches] * 1000.0
        nan = float("nan")
        return {
            "records": float(records.sum()),
            "batches": float(batches.sum()),
            "mean_batch_records": float(self.batch_records[batches].mean()) if batches.any() else nan,
            "e2e_p50_ms": float(np.percentile(e2e_ms, 50)) if e2e_ms.size else nan,
            "e2e_p99_ms": float(np.percentile(e2e_ms, 99)) if e2e_ms.size else nan,
            "e2e_max_ms": float(e2e_ms.max()) if e2e_ms.size else nan,
            "iterator_age_p50_ms": float(np.percentile(age_ms, 50)) if age_ms.size else nan,
            "iterator_age_p99_ms": float(np.percentile(age_ms, 99)) if age_ms.size else nan,
            "iterator_age_max_ms": float(age_ms.max()) if age_ms.size else nan,
            "busy_fraction": self.busy_s / self.duration_s if self.duration_s > 0 else nan,
        }

    def as_traced(self, start_s: float, end_s: float) -> dict[str, float]:
        """The step statistics reports/measured.py computes from an invocation trace, for batches SENT in
        [start_s, end_s): iterator age p99 over invocations (linear interpolation), and e2e p99 as the
        batch-size-weighted 0.99 quantile of the per-invocation p99s (never below the weighted median of the
        per-invocation p50s). Comparing like with like: the per-record p99 of `summary` is lower.
        """
        batches = (self.batch_close_s >= start_s) & (self.batch_close_s < end_s)
        if not batches.any():  # reports/measured.py reports 0 for a step without invocations
            return {"batches": 0.0, "iterator_age_p99_ms": 0.0, "e2e_p99_ms": 0.0}
        weights = self.batch_records[batches].astype(float)
        p99 = weighted_quantile(self.batch_e2e_p99_s[batches], weights, 0.99)
        p50 = weighted_quantile(self.batch_e2e_p50_s[batches], weights, 0.5)
        return {
            "batches": float(batches.sum()),
            "iterator_age_p99_ms": float(np.percentile(self.iterator_age_s[batches], 99)) * 1000.0,
            "e2e_p99_ms": max(p99, p50) * 1000.0,
        }

    def recovery_s(self, after_s: float, iterator_age_threshold_ms: float) -> float:
        """Seconds after `after_s` until the iterator age stays below the threshold (inf if never)."""
        later = (self.batch_close_s >= after_s) & (self.batch_close_s < self.profile_s)
        ages_ms = self.iterator_age_s[later] * 1000.0
        closes = self.batch_close_s[later]
        above = np.nonzero(ages_ms > iterator_age_threshold_ms)[0]
        if above.size == 0:
            return 0.0
        if above[-1] == ages_ms.size - 1:
            return math.inf
        return float(closes[above[-1] + 1] - after_s)


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """The smallest value whose cumulative weight reaches q of the total (reports/measured.py's rule)."""
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    index = int(np.searchsorted(cumulative, q * cumulative[-1], side="left"))
    return float(values[order][min(index, values.size - 1)])


def _nearest_rank_offset(count: int, fraction: float) -> int:
    """Index, from the NEWEST record of a batch, of the nearest-rank `fraction` quantile of its e2e (the
    newest record has the smallest e2e); the runtime's telemetry.percentile rule."""
    return count - max(1, math.ceil(fraction * count))


@dataclass(frozen=True)
class StepDraws:
    """Measured samples grouped by the step they were measured in: a draw in step k picks one of step k's
    samples (or of the nearest step's, when k has none), each column of it (joint draws)."""

    by_step: dict[int, tuple[np.ndarray, ...]]

    @classmethod
    def of(cls, steps: Sequence[int], *columns: Sequence[float]) -> StepDraws | None:
        """None without samples."""
        if not steps or any(len(column) != len(steps) for column in columns):
            return None
        keys = np.asarray(steps, dtype=int)
        arrays = [np.asarray(column, dtype=float) for column in columns]
        return cls({int(k): tuple(a[keys == k] for a in arrays) for k in np.unique(keys).tolist()})

    def draw(self, step: int, rng: np.random.Generator) -> tuple[float, ...]:
        key = step if step in self.by_step else min(self.by_step, key=lambda k: abs(k - step))
        columns = self.by_step[key]
        index = int(rng.integers(columns[0].size))
        return tuple(float(column[index]) for column in columns)


def _visible_times(
    arrivals: np.ndarray,
    shard: np.ndarray,
    read: ReadPath,
    rng: np.random.Generator,
    calls: StepDraws | None = None,
    step_ends: Sequence[float] = (),
) -> np.ndarray:
    """When each record reaches its lane from a per-shard poller that reads ahead (ReadPath.prefetch).

    Like the local runtime's poller: a call takes d (`read.delivery_s`, or with `calls` a draw from the
    measured call times of the step, in ms), sees what arrived by its end (the call time is mostly the
    emulator's queue and then its read) and hands it to the lanes then; the next call starts
    `poll_busy_s` after this one started (or when it returned, if later) when it returned records, and
    `poll_idle_s` after it returned when it came back empty, as before the first arrival. Whether it was
    empty depends on the whole
    shard's arrivals (`shard`), not only this lane's. A poll that would come back empty inside a gap of
    the shard's arrivals longer than `read.stall_gap_s` (an emulator stall in a replayed local run) is
    answered when the gap ends, with the first put after it, and is not empty, unless the gap ends at one
    of `read.pause_ends_s` (the producer's own pause: the emulator answered).
    """
    shard_list = shard.tolist()
    pause_ends = sorted(read.pause_ends_s)
    end_s = (arrivals[-1] if arrivals.size else 0.0) + read.poll_idle_s + read.poll_busy_s
    handed: list[float] = []
    # Before the load the stream is empty and the poller idles: a call, the idle second, a call... Its
    # phase against the first arrival is uniform over one such cycle (the 13:49 consumer-b100-w0 run: last
    # empty call 0.89 s before the first put, the next 0.24 s after it).
    idle_cycle_s = max(read.poll_idle_s + read.delivery_s, read.poll_busy_s, 1e-3)
    poll_s = (shard_list[0] if shard_list else 0.0) - float(rng.uniform(0.0, idle_cycle_s))
    seen = 0
    while poll_s <= end_s:
        call_s = read.delivery_s
        if calls is not None:
            call_s = calls.draw(bisect.bisect_right(step_ends, poll_s), rng)[0] / 1000.0
        now_seen = bisect.bisect_right(shard_list, poll_s + call_s, lo=seen)
        if now_seen == seen and _in_stall(shard_list, now_seen, read.stall_gap_s, pause_ends):
            # An empty poll sent during a stall: answered when the emulator handles calls again, with the
            # put that ends the gap (the stalled calls are handled in the order they came).
            poll_s = shard_list[now_seen] - call_s
            now_seen = bisect.bisect_right(shard_list, shard_list[now_seen], lo=now_seen)
        handed.append(poll_s + call_s)
        if now_seen > seen:
            poll_s += max(read.poll_busy_s, call_s)
        else:
            poll_s += call_s + read.poll_idle_s
        seen = now_seen
    schedule = np.asarray(handed)
    index = np.searchsorted(schedule, arrivals, side="left")
    return schedule[np.minimum(index, schedule.size - 1)]


@dataclass(frozen=True)
class DeviationPools:
    """Measured deviations drawn by step and size: a batch of n records sent in step k draws from step k's
    measured batches nearest to n in size (1 / DEVIATION_SIZE_CLASSES of them, or every batch of exactly n).

    Per step, because a shared host's stalls come in episodes (the 1-3 s invocations of a run fall in one
    step, not across the run); by size, and applied as the measured batch's EXCESS over its fitted time,
    (deviation - 1) x S(its size), added to this batch's S(n), because a host stall adds its seconds to a
    batch of any size, where a ratio would turn a stalled 30-record batch's 25x into minutes on a
    160-record one. The result is at least MIN_SERVICE_SHARE of S(n)."""

    by_step: dict[int, tuple[np.ndarray, np.ndarray]]  # step -> (deviations, records), sorted by records
    service_ms: tuple[float, float]  # a and the per-record ms of S(n)

    @classmethod
    def of(
        cls,
        deviations: np.ndarray,
        records: np.ndarray,
        steps: np.ndarray,
        service_ms: tuple[float, float],
    ) -> DeviationPools | None:
        """None without sizes; deviations without steps form one pool (step -1) every step draws from."""
        if deviations.size == 0 or records.size != deviations.size:
            return None
        if steps.size != deviations.size:
            steps = np.full(deviations.size, -1)
        by_step = {}
        for step in np.unique(steps).tolist():
            mine = steps == step
            order = np.argsort(records[mine], kind="stable")
            by_step[int(step)] = (deviations[mine][order], records[mine][order])
        return cls(by_step, service_ms)

    def pool(self, step: int, records: int) -> tuple[np.ndarray, np.ndarray, int, int]:
        """The step's pool (its own, or the nearest step's) and the index range a batch of `records`
        draws from."""
        key = step if step in self.by_step else min(self.by_step, key=lambda k: abs(k - step))
        deviations, sizes = self.by_step[key]
        count = sizes.size
        left = int(np.searchsorted(sizes, records, side="left"))
        right = int(np.searchsorted(sizes, records, side="right"))
        middle, half = (left + right) / 2.0, count / (2.0 * DEVIATION_SIZE_CLASSES)
        low = max(0, min(left, round(middle - half)))
        high = min(count, max(right, round(middle + half)))
        if high <= low:
            low, high = max(0, count - 1), count
        return deviations, sizes, low, high

    def spent_s(
        self,
        service_s: float,
        records: int,
        step: int,
        factor: float,
        attempts: int,
        rng: np.random.Generator,
    ) -> float:
        """Time of `attempts` invocations of a batch of `records` in `step` whose S(n) x factor is
        `service_s`."""
        deviations, sizes, low, high = self.pool(step, records)
        drawn = rng.integers(low, high, size=attempts)
        fitted_s = (self.service_ms[0] + self.service_ms[1] * sizes[drawn]) / 1000.0 * factor
        excess_s = (deviations[drawn] - 1.0) * fitted_s
        return float(np.maximum(service_s + excess_s, MIN_SERVICE_SHARE * service_s).sum())


def _in_stall(
    shard: list[float], next_index: int, stall_gap_s: float, pause_ends: Sequence[float] = ()
) -> bool:
    """Whether the gap before arrival `next_index` of the shard is longer than `stall_gap_s` and does not
    end at one of the (sorted) `pause_ends` (the producer's own pause, ReadPath.pause_ends_s)."""
    if not (0 < next_index < len(shard) and shard[next_index] - shard[next_index - 1] > stall_gap_s):
        return False
    at = bisect.bisect_left(pause_ends, shard[next_index] - PAUSE_MATCH_S)
    return not (at < len(pause_ends) and pause_ends[at] <= shard[next_index] + PAUSE_MATCH_S)


def simulate_lane(
    config: LaneSimConfig,
    profile: Sequence[tuple[float, float]],
    *,
    seed: int = 0,
    replay: tuple[np.ndarray, np.ndarray] | None = None,
) -> SimResult:
    """Run one lane through the load profile and return per-record e2e and per-batch iterator age.

    `replay`: recorded (lane, shard) arrival times in seconds from the profile's start, used instead of
    generated ones (capacity/recorded.py); the profile then only sets the step boundaries.
    """
    rng = np.random.default_rng(seed)
    shard_factor = max(config.shard_rate_factor, 1.0)
    stream_factor = max(config.stream_rate_factor, shard_factor)
    if replay is not None:  # recorded (lane, shard) arrival times, seconds from the profile's start
        arrivals, shard = replay
    else:
        shard = shard_arrivals(
            [(d, r * stream_factor) for d, r in profile], config.arrivals, shard_factor / stream_factor, rng
        )
        # This lane's records are a random share of the shard's (keys hash to lanes independently).
        arrivals = shard if shard_factor == 1.0 else shard[rng.random(shard.size) < 1.0 / shard_factor]
    step_ends = np.cumsum([step[0] for step in profile]).tolist()
    duration_s = float(sum(step[0] for step in profile))
    read = config.read
    runtime = config.runtime
    calls = StepDraws.of(runtime.poll_steps, runtime.poll_call_ms) if read.prefetch else None
    wakes = StepDraws.of(runtime.wake_steps, runtime.wake_ms, runtime.start_ms)
    if read.prefetch:
        visible = _visible_times(arrivals, shard, read, rng, calls, step_ends).tolist()
    else:
        visible = (arrivals + read.delivery_s).tolist()
    total = len(visible)
    batch_cap = int(effective_batch_size(config.batch_size, config.record_bytes))
    a_ms, b_ms, c_ms = config.service_ms
    per_record_ms = b_ms + c_ms * config.record_bytes / 1024.0
    sigma = math.sqrt(math.log1p(config.service_cv**2)) if config.service_cv > 0 else 0.0
    deviations = np.asarray(config.service_deviations, dtype=float)
    gaps = np.asarray(config.dispatch_gaps_ms, dtype=float) / 1000.0
    pools = DeviationPools.of(
        deviations,
        np.asarray(config.service_deviation_records, dtype=float),
        np.asarray(config.service_deviation_steps, dtype=int),
        (a_ms, per_record_ms),
    )

    done_at = np.zeros(total)
    closes: list[float] = []
    sizes: list[int] = []
    ages: list[float] = []
    batch_p50: list[float] = []
    batch_p99: list[float] = []
    busy_s = 0.0
    free_at = 0.0
    head = 0
    last_take = -math.inf
    while head < total:
        first_visible = visible[head]
        full_index = head + batch_cap - 1
        full_visible = visible[full_index] if full_index < total else math.inf
        if read.prefetch:
            # The lane's buffer fills on the poller's schedule; the window runs from the moment the buffer
            # became non-empty (or from the last take, for leftovers), even while the lane is busy.
            since = first_visible if first_visible > last_take else last_take
            closed = max(free_at, first_visible, min(since + config.batching_window_s, full_visible))
        else:
            fetch = free_at + read.poll_busy_s
            if first_visible <= fetch:
                opened = fetch
            elif read.poll_idle_s > 0:
                # An empty fetch: the poller tries again every poll_idle_s until something is there.
                opened = fetch + math.ceil((first_visible - fetch) / read.poll_idle_s) * read.poll_idle_s
            else:
                opened = first_visible
            closed = min(opened + config.batching_window_s, max(opened, full_visible))
        step = bisect.bisect_right(step_ends, closed)
        # The batch is due at `closed`; the lane takes and sends it (the iterator age's end) and the worker
        # starts the handler the measured poll-to-invoke times later (0 without measurements).
        wake_s, start_s = 0.0, 0.0
        if wakes is not None:
            wake_ms, start_ms = wakes.draw(min(step, len(step_ends) - 1), rng)
            wake_s, start_s = wake_ms / 1000.0, start_ms / 1000.0
        sent = closed + wake_s
        if read.prefetch:
            last_take = sent
        end = min(bisect.bisect_right(visible, sent, lo=head), head + batch_cap)
        records = end - head
        service_s = (a_ms + per_record_ms * records) / 1000.0
        if not closes:
            service_s += config.cold_start_ms / 1000.0
        factor = 1.0
        if config.service_factors:
            factor = config.service_factors[min(step, len(config.service_factors) - 1)]
        service_s *= factor
        attempts = 1
        while attempts <= config.max_retries and config.error_rate > 0 and rng.random() < config.error_rate:
            attempts += 1
        if pools is not None:
            spent_s = pools.spent_s(service_s, records, min(step, len(step_ends) - 1), factor, attempts, rng)
        else:
            if deviations.size:
                noise = deviations[rng.integers(deviations.size, size=attempts)]
            elif sigma > 0:
                noise = rng.lognormal(-0.5 * sigma**2, sigma, attempts)
            else:
                noise = np.ones(attempts)
            spent_s = float(service_s * noise.sum())
        finished = sent + start_s + spent_s
        busy_s += spent_s
        done_at[head:end] = finished
        # The lane takes its next batch a dispatch gap after this invocation ends (the local runtime's own
        # time between two invocations of a lane, measured; 0 without measurements).
        free_at = finished + (float(gaps[rng.integers(gaps.size)]) if gaps.size else 0.0)
        closes.append(sent)
        sizes.append(records)
        ages.append(sent - float(arrivals[end - 1]))
        # e2e falls with arrival order inside a batch: the k-th smallest is the (records-k)-th arrival.
        batch_p50.append(finished - float(arrivals[head + _nearest_rank_offset(records, 0.5)]))
        batch_p99.append(finished - float(arrivals[head + _nearest_rank_offset(records, 0.99)]))
        head = end
    return SimResult(
        arrival_s=arrivals,
        e2e_s=done_at - arrivals,
        batch_close_s=np.asarray(closes),
        batch_records=np.asarray(sizes),
        iterator_age_s=np.asarray(ages),
        busy_s=busy_s,
        batch_e2e_p50_s=np.asarray(batch_p50),
        batch_e2e_p99_s=np.asarray(batch_p99),
        duration_s=max(duration_s, free_at),
        profile_s=duration_s,
    )
