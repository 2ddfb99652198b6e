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
from dataclasses import dataclass

import numpy as np

from capacity.errors import CapacityError
from capacity.model import ReadPath, effective_batch_size

MAX_SIMULATED_RECORDS = 3_000_000


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


@dataclass(frozen=True)
class SimResult:
    """Per-record and per-batch outcomes; times in seconds from the start of the profile."""

    arrival_s: np.ndarray
    e2e_s: np.ndarray
    batch_close_s: np.ndarray
    batch_records: np.ndarray
    iterator_age_s: np.ndarray
    busy_s: float
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


def poisson_arrivals(profile: Sequence[tuple[float, float]], rng: np.random.Generator) -> np.ndarray:
    """Sorted arrival times for a piecewise-constant rate profile [(duration_s, rate_rps), ...]."""
    chunks: list[np.ndarray] = []
    start = 0.0
    for duration_s, rate_rps in profile:
        if duration_s < 0 or rate_rps < 0:
            raise CapacityError(f"profile step ({duration_s}, {rate_rps}) must be non-negative")
        count = int(rng.poisson(rate_rps * duration_s))
        chunks.append(np.sort(rng.uniform(start, start + duration_s, count)))
        start += duration_s
    arrivals = np.concatenate(chunks) if chunks else np.zeros(0)
    if arrivals.size > MAX_SIMULATED_RECORDS:
        raise CapacityError(
            f"profile has {arrivals.size} records per lane; simulate a shorter profile "
            f"(at most {MAX_SIMULATED_RECORDS})"
        )
    return arrivals


def _poll_times(
    arrivals: np.ndarray,
    profile: Sequence[tuple[float, float]],
    shard_rate_factor: float,
    read: ReadPath,
    rng: np.random.Generator,
) -> np.ndarray:
    """When each record is fetched by a per-shard poller that reads ahead (ReadPath.prefetch).

    The poller polls again after `poll_busy_s` when a poll returned records and after `poll_idle_s` when it
    came back empty; whether it was empty depends on the whole shard's arrivals, this lane's and the others.
    """
    others = poisson_arrivals([(d, r * max(shard_rate_factor - 1.0, 0.0)) for d, r in profile], rng)
    shard = np.sort(np.concatenate([arrivals, others])).tolist()
    end_s = (arrivals[-1] if arrivals.size else 0.0) + read.poll_idle_s + read.poll_busy_s
    polls: list[float] = []
    poll_s = float(rng.uniform(0.0, max(read.poll_busy_s, 1e-3)))
    seen = 0
    while poll_s <= end_s:
        polls.append(poll_s)
        now_seen = bisect.bisect_right(shard, poll_s, lo=seen)
        poll_s += read.poll_busy_s if now_seen > seen else read.poll_idle_s
        seen = now_seen
    schedule = np.asarray(polls)
    return schedule[np.minimum(np.searchsorted(schedule, arrivals, side="left"), schedule.size - 1)]


def simulate_lane(
    config: LaneSimConfig, profile: Sequence[tuple[float, float]], *, seed: int = 0
) -> SimResult:
    """Run one lane through the load profile and return per-record e2e and per-batch iterator age."""
    rng = np.random.default_rng(seed)
    arrivals = poisson_arrivals(profile, rng)
    duration_s = float(sum(step[0] for step in profile))
    read = config.read
    seen_at = (
        _poll_times(arrivals, profile, config.shard_rate_factor, read, rng) if read.prefetch else arrivals
    )
    visible = (seen_at + read.delivery_s).tolist()
    total = len(visible)
    batch_cap = int(effective_batch_size(config.batch_size, config.record_bytes))
    a_ms, b_ms, c_ms = config.service_ms
    per_record_ms = b_ms + c_ms * config.record_bytes / 1024.0
    sigma = math.sqrt(math.log1p(config.service_cv**2)) if config.service_cv > 0 else 0.0

    done_at = np.zeros(total)
    closes: list[float] = []
    sizes: list[int] = []
    ages: list[float] = []
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
            last_take = closed
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
        end = min(bisect.bisect_right(visible, closed, lo=head), head + batch_cap)
        records = end - head
        service_s = (a_ms + per_record_ms * records) / 1000.0
        attempts = 1
        while attempts <= config.max_retries and config.error_rate > 0 and rng.random() < config.error_rate:
            attempts += 1
        noise = rng.lognormal(-0.5 * sigma**2, sigma, attempts) if sigma > 0 else np.ones(attempts)
        spent_s = float(service_s * noise.sum())
        free_at = closed + spent_s
        busy_s += spent_s
        done_at[head:end] = free_at
        closes.append(closed)
        sizes.append(records)
        ages.append(closed - float(arrivals[end - 1]))
        head = end
    return SimResult(
        arrival_s=arrivals,
        e2e_s=done_at - arrivals,
        batch_close_s=np.asarray(closes),
        batch_records=np.asarray(sizes),
        iterator_age_s=np.asarray(ages),
        busy_s=busy_s,
        duration_s=max(duration_s, free_at),
        profile_s=duration_s,
    )
