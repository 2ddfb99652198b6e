"""Analytic steady state of one Kinesis -> Lambda lane (one shard, or one PF lane of a shard).

A lane is a single server: one invocation at a time, in order. Records arrive at rate lambda; a batch
closes when it holds the batch size, when the batching window expires, or at the 6 MB payload limit; the
reader fetches at most every `poll_busy_s` while behind and every `poll_idle_s` when caught up (1 s for
Lambda's Kinesis poller; GetRecords' 5 calls/s per shard are shared by every polling consumer).

Cycle between two batch closes, with n = min(B, lambda*T) records per batch and S(n) the service time:
    busy cycle      T_b = W + S(n) + P_busy                  (window, service, next fetch)
    idle penalty    q * P_idle / (1 - exp(-lambda * P_idle)),  q = exp(-lambda * T_b)
    batch-size cap  T = B / lambda when lambda * T > B
A record waits U(0, T) for its batch to close, then S(n): e2e quantile q ~ q*T + S(n) + delivery. The lane
is stable iff lambda < B / (S(B) + P_busy) (full batches back to back); utilisation is lambda over that.
Valid for utilisation below ~0.8 and steady load; the simulator covers bursts, noise and saturation.
Every function works element-wise on numpy arrays so the planner can evaluate thousands of configurations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from capacity import quotas

FIXED_POINT_ITERATIONS = 60
CONVERGED_RELATIVE = 1e-6


@dataclass(frozen=True)
class ReadPath:
    """How records reach a lane: fetch cadence while behind / caught up, and delivery delay."""

    poll_busy_s: float
    poll_idle_s: float
    delivery_s: float
    mode: str = "shared"
    # True when a per-shard poller reads ahead into the lanes' buffers independently of the invocations
    # (the local runtime): records become visible on the shard's poll schedule, and a lane takes its next
    # batch as soon as it is free. The analytic model covers the AWS read path only; the simulator both.
    prefetch: bool = False
    # Replaying a local run's recorded arrivals: a gap between two arrivals on the shard longer than this is
    # the emulator not answering (it stamps arrival times as it handles the puts), not a pause of the
    # producer, so a poll sent in it is answered when it ends, with the puts queued behind the stall
    # (capacity/simulate.py _poll_times). inf: every gap is a real pause (AWS, generated arrivals).
    stall_gap_s: float = math.inf
    # The arrivals (in the simulation's time, seconds from the profile's start) that end a gap longer than
    # stall_gap_s which was the producer pausing while the host ran, not a stall
    # (capacity.runtime_samples.pause_gaps): a poll sent in such a gap comes back empty.
    pause_ends_s: tuple[float, ...] = ()

    @classmethod
    def shared(cls, polling_consumers: int = 1) -> ReadPath:
        """GetRecords polling; `polling_consumers` counts every consumer of the stream, this one included."""
        consumers = max(1, polling_consumers)
        busy_s = consumers / quotas.SHARD_GET_RECORDS_CALLS_PER_S
        return cls(busy_s, max(quotas.ESM_IDLE_POLL_INTERVAL_S, busy_s), 0.0, "shared")

    @classmethod
    def local_runtime(
        cls,
        poll_busy_s: float = 1.0 / quotas.SHARD_GET_RECORDS_CALLS_PER_S,
        poll_idle_s: float = quotas.ESM_IDLE_POLL_INTERVAL_S,
        delivery_s: float = 0.0,
    ) -> ReadPath:
        """The project's local ESM runtime: a poller per shard that polls again `poll_busy_s` after the
        previous call started while records come (5 calls/s) and `poll_idle_s` after an empty poll; polled
        records reach the lanes `delivery_s` later (the GetRecords call time, its metric
        GetRecords.Latency)."""
        return cls(poll_busy_s, poll_idle_s, delivery_s, "local", prefetch=True)

    @classmethod
    def efo(cls) -> ReadPath:
        """Enhanced fan-out: records are pushed over HTTP/2, no polling cadence, ~70 ms delivery."""
        return cls(0.0, 0.0, quotas.EFO_PROPAGATION_MS / 1000.0, "efo")

    @property
    def typical_delivery_ms(self) -> float:
        """Put-to-read delay of a busy stream: a push's delay, or the time between two fetches of a shard
        (its 5 GetRecords/s shared by every polling consumer), AWS's "typical propagation delay"."""
        return (self.delivery_s + self.poll_busy_s) * 1000.0


@dataclass(frozen=True)
class LaneSteadyState:
    """Model outputs for each evaluated configuration (numpy arrays, or floats for one configuration)."""

    batch_records: Any
    cycle_s: Any
    service_s: Any
    capacity_rps: Any
    utilisation: Any
    stable: Any
    mean_wait_s: Any
    e2e_p50_s: Any
    e2e_p99_s: Any
    e2e_max_s: Any
    iterator_age_p99_s: Any
    iterator_age_max_s: Any


def effective_batch_size(batch_size: Any, record_bytes: Any) -> Any:
    """The batch size the ESM can actually fill under the 6 MB invocation payload limit."""
    payload_cap = np.maximum(np.floor(quotas.ESM_MAX_PAYLOAD_BYTES / np.maximum(record_bytes, 1)), 1)
    return np.minimum(batch_size, payload_cap)


def steady_state(
    lane_rate_rps: Any,
    record_bytes: Any,
    batch_size: Any,
    window_s: Any,
    service_ms: tuple[Any, Any, Any],
    read: ReadPath,
    *,
    horizon_s: float = 600.0,
) -> LaneSteadyState:
    """Steady state of lanes at `lane_rate_rps` with S(n) = a + b*n + c*KiB in ms (`service_ms`=(a,b,c))."""
    lam = np.maximum(np.asarray(lane_rate_rps, dtype=float), 1e-9)
    kib_per_record = np.asarray(record_bytes, dtype=float) / 1024.0
    a_s = np.asarray(service_ms[0], dtype=float) / 1000.0
    per_record_s = (
        np.asarray(service_ms[1], dtype=float) + np.asarray(service_ms[2]) * kib_per_record
    ) / 1000.0
    batch = effective_batch_size(np.asarray(batch_size, dtype=float), record_bytes)
    window = np.asarray(window_s, dtype=float)

    full_service_s = a_s + per_record_s * batch
    capacity = batch / (full_service_s + read.poll_busy_s)
    utilisation = lam / capacity
    stable = utilisation < 1.0

    # Fixed point of the cycle length T (see the module docstring). Start from the closed form of the busy
    # regime, T = (W + a + P_busy) / (1 - lambda*b), capped by the batch fill time B/lambda; the iterations
    # then only add the idle-poll correction, which matters at light load where they converge fast.
    fixed_part = window + a_s + read.poll_busy_s
    slope = lam * per_record_s
    closed_form = np.where(slope < 1.0, fixed_part / np.maximum(1.0 - slope, 1e-12), np.inf)
    cycle = np.maximum(np.minimum(closed_form, batch / lam), 1e-6)
    idle_gap = 0.0 * lam
    for _ in range(FIXED_POINT_ITERATIONS):
        records = np.clip(lam * cycle, 1.0, batch)
        busy_cycle = window + a_s + per_record_s * records + read.poll_busy_s
        if read.poll_idle_s > 0:
            nothing_pending = np.exp(-lam * busy_cycle)
            idle_gap = nothing_pending * read.poll_idle_s / -np.expm1(-lam * read.poll_idle_s)
        full_cycle = busy_cycle + idle_gap
        previous, cycle = cycle, np.where(lam * full_cycle > batch, batch / lam, full_cycle)
        if np.max(np.abs(cycle - previous) / cycle) < CONVERGED_RELATIVE:
            break
    records = np.clip(lam * cycle, 1.0, batch)
    service = a_s + per_record_s * records
    delivery = read.delivery_s
    # Records that arrive while the lane idles wait for the next poll tick, U(0, P_idle); the others wait
    # U(0, T) for their batch to close. The waiting time is a mixture of the two uniforms.
    idle_fraction = np.clip(idle_gap / cycle, 0.0, 1.0)
    spans = (np.maximum(cycle - idle_gap, 1e-9), max(read.poll_idle_s, 1e-9))
    wait_p99 = _uniform_mixture_quantile(0.99, idle_fraction, *spans)
    e2e_p50 = _uniform_mixture_quantile(0.5, idle_fraction, *spans) + service + delivery
    e2e_p99 = wait_p99 + service + delivery
    e2e_max = np.maximum(cycle, np.where(idle_fraction > 0, read.poll_idle_s, 0.0)) + service + delivery
    batches_in_horizon = np.maximum(horizon_s / cycle, 1.0)
    # The newest record of a batch arrived Exp(lambda) before the close, at most a cycle; when the lane
    # idles, it waited for the next poll tick like every other record.
    mostly_idle = idle_fraction > 0.01
    age_p99 = delivery + np.where(mostly_idle, wait_p99, np.minimum(cycle, np.log(100.0) / lam))
    age_max = delivery + np.where(
        mostly_idle, read.poll_idle_s, np.minimum(cycle, np.log(batches_in_horizon) / lam)
    )
    inf = np.inf
    return LaneSteadyState(
        batch_records=records,
        cycle_s=cycle,
        service_s=service,
        capacity_rps=capacity,
        utilisation=utilisation,
        stable=stable,
        mean_wait_s=np.where(stable, 0.5 * cycle, inf),
        e2e_p50_s=np.where(stable, e2e_p50, inf),
        e2e_p99_s=np.where(stable, e2e_p99, inf),
        e2e_max_s=np.where(stable, e2e_max, inf),
        iterator_age_p99_s=np.where(stable, age_p99, inf),
        iterator_age_max_s=np.where(stable, age_max, inf),
    )


def _uniform_mixture_quantile(p: float, weight_b: Any, span_a: Any, span_b: Any) -> Any:
    """Quantile p of the mixture (1-w)*U(0, span_a) + w*U(0, span_b), element-wise."""
    w = np.asarray(weight_b, dtype=float)
    a = np.broadcast_to(np.asarray(span_a, dtype=float), w.shape)
    b = np.broadcast_to(np.asarray(span_b, dtype=float), w.shape)
    short = np.minimum(a, b)
    long = np.maximum(a, b)
    weight_long = np.where(b >= a, w, 1.0 - w)
    weight_short = 1.0 - weight_long
    density_both = weight_short / short + weight_long / long
    cdf_at_short = density_both * short
    below = p / density_both
    above = short + (p - cdf_at_short) / np.maximum(weight_long / long, 1e-300)
    return np.where(p <= cdf_at_short, below, np.minimum(above, long))
