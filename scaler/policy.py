"""The scaler's decision: from one minute of stream metrics, the shard count and parallelization factor to
ask for. Pure and deterministic, so what the planner simulated (capacity/scaling.py) is what the Lambda
(scaler/handler.py) does.

Order of moves, cheapest first: the parallelization factor is instant and free (UpdateEventSourceMapping),
so a falling-behind consumer gets PF first; shards cost an UpdateShardCount call out of ten per rolling 24 h,
each at most 2x / 0.5x, and take minutes, so scale-in keeps calls in reserve for the next scale-out.
The AWS limits come in as `StreamLimits` (capacity/quotas.py fills them for the simulator, the template's
parameters for the Lambda), because this package is zipped without the harness.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

DAY_S = 86_400.0


@dataclass(frozen=True)
class StreamLimits:
    """The AWS numbers the decision obeys (sources in capacity/quotas.py)."""

    shard_write_records_per_s: float
    shard_write_bytes_per_s: float
    reshard_max_up_factor: float
    reshard_min_down_factor: float
    reshard_calls_per_24h: int
    parallelization_factor_max: int


@dataclass(frozen=True)
class ScalerPolicy:
    """Thresholds, steps and cooldowns. Utilisation is the busier of records/s and bytes/s over what the
    open shards may take."""

    target_utilisation: float = 0.5  # a scale-out sizes shards so the last minute sits here
    scale_out_utilisation: float = 0.75
    scale_in_utilisation: float = 0.25
    iterator_age_high_ms: float = 20_000.0  # behind: raise PF, then shards once PF is at its maximum
    iterator_age_low_ms: float = 2_000.0  # caught up: PF and shards may come down
    scale_out_cooldown_s: float = 120.0  # after any UpdateShardCount call
    scale_in_cooldown_s: float = 3_600.0  # after any change, before a step down
    pf_cooldown_s: float = 60.0
    calls_reserved_for_scale_out: int = 3  # scale-in never spends the last calls of the rolling 24 h
    min_shards: int = 1
    max_shards: int = 10_000
    min_parallelization_factor: int = 1

    def __post_init__(self) -> None:
        if not 0 < self.scale_in_utilisation < self.target_utilisation < self.scale_out_utilisation:
            raise ValueError(
                "scaler utilisations must satisfy 0 < scale_in < target < scale_out (got "
                f"{self.scale_in_utilisation}, {self.target_utilisation}, {self.scale_out_utilisation})"
            )
        if self.iterator_age_low_ms >= self.iterator_age_high_ms:
            raise ValueError("iterator_age_low_ms must be below iterator_age_high_ms")
        if not 1 <= self.min_shards <= self.max_shards:
            raise ValueError(f"shard bounds {self.min_shards}..{self.max_shards} are not 1 <= min <= max")


@dataclass(frozen=True)
class Observation:
    """One minute of metrics and the stream's state, as CloudWatch and the APIs show it."""

    now_s: float
    incoming_records_per_s: float  # IncomingRecords Sum over the last minute / 60
    incoming_bytes_per_s: float  # IncomingBytes Sum / 60
    iterator_age_ms: float  # the function's IteratorAge Maximum over the last minute
    open_shards: int
    parallelization_factor: int
    stream_updating: bool  # StreamStatus UPDATING: a reshard is in progress
    shard_calls_s: tuple[float, ...] = field(default_factory=tuple)  # times of recent UpdateShardCount calls
    last_pf_change_s: float = -math.inf


@dataclass(frozen=True)
class Decision:
    """What to call: a new shard count (UpdateShardCount) and/or PF (UpdateEventSourceMapping); None: keep."""

    shards: int | None
    parallelization_factor: int | None
    reason: str


def utilisation(observation: Observation, limits: StreamLimits) -> float:
    shards = max(observation.open_shards, 1)
    return max(
        observation.incoming_records_per_s / (shards * limits.shard_write_records_per_s),
        observation.incoming_bytes_per_s / (shards * limits.shard_write_bytes_per_s),
    )


def calls_in_window(observation: Observation) -> int:
    return sum(1 for at in observation.shard_calls_s if observation.now_s - at < DAY_S)


def shards_for(observation: Observation, limits: StreamLimits, policy: ScalerPolicy) -> int:
    """The shard count that puts the last minute's write load at the target utilisation."""
    load = utilisation(observation, limits) * max(observation.open_shards, 1)
    return max(policy.min_shards, math.ceil(load / policy.target_utilisation))


def decide(observation: Observation, limits: StreamLimits, policy: ScalerPolicy) -> Decision:
    """The moves for this minute (see the module docstring for their order)."""
    shards, pf = observation.open_shards, observation.parallelization_factor
    used = utilisation(observation, limits)
    behind = observation.iterator_age_ms > policy.iterator_age_high_ms
    caught_up = observation.iterator_age_ms < policy.iterator_age_low_ms
    pf_free = observation.now_s - observation.last_pf_change_s >= policy.pf_cooldown_s
    new_pf: int | None = None
    reasons: list[str] = []
    if behind and pf < limits.parallelization_factor_max and pf_free:
        new_pf = min(limits.parallelization_factor_max, pf * 2)
        reasons.append(f"iterator age {observation.iterator_age_ms:,.0f} ms: PF {pf} -> {new_pf}")
    new_shards = _shard_move(observation, limits, policy, used, behind and new_pf is None, caught_up)
    if new_shards is not None:
        reasons.append(f"write utilisation {used:.0%}: shards {shards} -> {new_shards}")
    elif (
        new_pf is None
        and caught_up
        and pf > policy.min_parallelization_factor
        and pf_free
        and used < policy.scale_in_utilisation
        and _quiet_for(observation, policy.scale_in_cooldown_s)
    ):
        new_pf = max(policy.min_parallelization_factor, pf // 2)
        reasons.append(f"caught up at {used:.0%} utilisation: PF {pf} -> {new_pf}")
    return Decision(new_shards, new_pf, "; ".join(reasons) or f"hold at {used:.0%} utilisation")


def _quiet_for(observation: Observation, seconds: float) -> bool:
    last_call = max(observation.shard_calls_s, default=-math.inf)
    return observation.now_s - max(last_call, observation.last_pf_change_s) >= seconds


def _shard_move(
    observation: Observation,
    limits: StreamLimits,
    policy: ScalerPolicy,
    used: float,
    behind_at_max_pf: bool,
    caught_up: bool,
) -> int | None:
    shards = observation.open_shards
    if observation.stream_updating:
        return None  # one reshard at a time: UpdateShardCount refuses a stream that is UPDATING
    calls = calls_in_window(observation)
    last_call = max(observation.shard_calls_s, default=-math.inf)
    if (used > policy.scale_out_utilisation or behind_at_max_pf) and calls < limits.reshard_calls_per_24h:
        if observation.now_s - last_call < policy.scale_out_cooldown_s:
            return None
        wanted = max(shards_for(observation, limits, policy), shards + 1)
        target = min(wanted, math.floor(shards * limits.reshard_max_up_factor), policy.max_shards)
        return target if target > shards else None
    spare = limits.reshard_calls_per_24h - policy.calls_reserved_for_scale_out
    if used < policy.scale_in_utilisation and caught_up and calls < spare:
        if not _quiet_for(observation, policy.scale_in_cooldown_s):
            return None
        floor = math.ceil(shards * limits.reshard_min_down_factor)
        target = max(shards_for(observation, limits, policy), floor, policy.min_shards)
        return target if target < shards else None
    return None
