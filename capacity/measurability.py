"""When a step's p99 can be measured: enough invocations for the 99th percentile to be more than the maximum,
and how long a load step must last to get them.

The rule: a p99 over n invocations needs n >= 1 / (1 - 0.99) = 100, so that at least one invocation lies
above its rank. Below that the nearest-rank p99 IS the maximum, and numpy's interpolated p99 (what
reports/measured.py takes) lies between the two largest values, (101 - n)% of the way to the maximum (51%
at n = 50, 81% at n = 20; 1% at n = 100). Such a p99 is the statistic of one invocation: one slow
invocation moves it by its whole excess, and neither a prediction nor a release gate can be held to it.
The end-to-end p99 is the batch-weighted 0.99-quantile of the per-invocation p99s: with batches of similar
size the same count applies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from capacity import quotas

P99 = 0.99
MIN_INVOCATIONS_FOR_P99 = math.ceil(1.0 / (1.0 - P99))  # 100
# The gap between two fetches of a busy shard (its 5 GetRecords calls/s): a batch takes at least one.
POLL_BUSY_S = 1.0 / quotas.SHARD_GET_RECORDS_CALLS_PER_S


def p99_measurable(invocations: int) -> bool:
    """Whether a p99 over this many invocations is more than the largest of them."""
    return invocations >= MIN_INVOCATIONS_FOR_P99


def unmeasurable_note(step: int, invocations: int, duration_s: float) -> str:
    """The warning for a step whose p99s are (nearly) its maxima."""
    longer_s = duration_s * MIN_INVOCATIONS_FOR_P99 / max(invocations, 1)
    return (
        f"step {step}: {invocations} invocations, fewer than the {MIN_INVOCATIONS_FOR_P99} a p99 needs; its "
        f"IteratorAge and e2e p99 are close to the step's maximum (one slow invocation sets them). Make "
        f"the step ~{longer_s:,.0f} s long (now {duration_s:,.0f} s)"
    )


@dataclass(frozen=True)
class StepPlan:
    """One load step of a profile and the invocations it can be expected to give."""

    step: int
    rate_rps: float
    duration_s: float
    invocations_per_s: float

    @property
    def expected_invocations(self) -> float:
        return self.duration_s * self.invocations_per_s

    @property
    def min_duration_s(self) -> float:
        return MIN_INVOCATIONS_FOR_P99 / self.invocations_per_s if self.invocations_per_s > 0 else math.inf

    @property
    def measurable(self) -> bool:
        return self.expected_invocations >= MIN_INVOCATIONS_FOR_P99


def invocations_per_s(
    rate_rps: float,
    shards: int,
    parallelization_factor: int,
    batch_size: int,
    batching_window_s: float,
    service_ms: tuple[float, float] | None = None,
) -> float:
    """Batches per second of the whole function at `rate_rps` spread evenly over shards x PF lanes.

    A lane's batch closes when its window has run after the records it holds became visible, about one
    busy poll after the previous batch, or when the batch is full, whichever comes first, and never more
    often than the shard is polled: cycle = max(min(W + 1/5 s, B / lambda), 1/5 s), and a lane makes at
    most lambda batches/s (one record each).

    `service_ms` = (a, b), the handler's S(n) = a + b*n in ms: a lane runs one batch at a time, so the cycle
    is also at least the time of the batch it runs, S(lambda x cycle), i.e. a / (1 - lambda*b), and S(B) when
    lambda*b >= 1 (saturated: full batches back to back). Without it the handler's time is left out, which
    makes this an upper bound on the invocations and the step length it gives a lower bound (measured: 2-4x
    short for a lane near its limit, docs/capacity.md Validation).
    """
    lanes = max(shards, 1) * max(parallelization_factor, 1)
    lane_rps = rate_rps / lanes
    if lane_rps <= 0:
        return 0.0
    cycle_s = max(min(batching_window_s + POLL_BUSY_S, batch_size / lane_rps), POLL_BUSY_S)
    if service_ms is not None:
        cycle_s = max(cycle_s, handler_cycle_s(lane_rps, batch_size, service_ms))
    return lanes * min(lane_rps, 1.0 / cycle_s)


def handler_cycle_s(lane_rps: float, batch_size: int, service_ms: tuple[float, float]) -> float:
    """The shortest cycle a lane's handler allows at `lane_rps`: n = lambda x T records take
    S(n) = a + b*n ms, so T >= a / (1 - lambda*b), capped by full batches, S(B)."""
    a_s, b_s = service_ms[0] / 1000.0, service_ms[1] / 1000.0
    full_s = a_s + b_s * batch_size
    slope = lane_rps * b_s
    if slope >= 1.0:
        return full_s
    return min(a_s / (1.0 - slope), full_s)


def step_plans(
    steps: tuple[float, ...] | list[float],
    step_duration_s: float,
    shards: int,
    parallelization_factor: int,
    batch_size: int,
    batching_window_s: float,
    service_ms: tuple[float, float] | None = None,
) -> list[StepPlan]:
    """Each step of a step profile with its expected invocations and the length its p99 needs
    (`service_ms`: the handler's S(n) = a + b*n when known, see invocations_per_s)."""
    return [
        StepPlan(
            index,
            float(rate),
            float(step_duration_s),
            invocations_per_s(
                float(rate), shards, parallelization_factor, batch_size, batching_window_s, service_ms
            ),
        )
        for index, rate in enumerate(steps)
    ]
