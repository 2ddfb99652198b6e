"""Cold starts: how many a plan's lanes pay per day, what they do to the e2e p99, and whether provisioned
concurrency (an alias with shards x PF pre-initialised environments) is worth its price.

A cold start is an invocation that finds no initialised execution environment: Lambda's INIT (the REPORT
line's Init Duration: interpreter and `import pipeline.handler`) plus the handler's first call in the new
environment (configure(): the boto3 clients), which lands in its Duration. Environments belong to the
function version, not to a shard, so they are counted for the whole mapping:

- the first invocation of every lane (shards x PF) after a deploy;
- new lanes: when shards x PF rises (a reshard, a PF change) above the environments still warm, i.e. the
  most lanes used within the idle lifetime before (an environment idle longer than that is gone);
- idle expiry: a lane that gets no record for longer than the idle lifetime starts cold;
- recycling: Lambda ends every environment after some hours even under continuous use.

The idle and maximum lifetimes are not documented by AWS: capacity/quotas.py holds the assumed, observed
values with their sources. The time a cold start costs comes from a run (its REPORT lines' Init Duration
and the first invocations' excess over the fitted service time) or from the cold-start benchmark.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from capacity import quotas
from capacity.fit import ServiceTimeModel
from capacity.quotas import Prices
from capacity.search import PlanInputs, SearchSpace, Slo, Workload, speed_factor
from capacity.simulate import LaneSimConfig, simulate_lane, weighted_quantile

SECONDS_PER_DAY = 86_400.0
MINUTES_PER_DAY = 1_440
SIMULATED_S = 120.0  # one cold start's effect on a lane has drained long before
MIN_SIMULATED_RECORDS = 500
DAYS_PER_MONTH = quotas.HOURS_PER_MONTH / 24.0

# Measured by tests/benchmarks/bench_cold_start.py (docs/benchmarks.md, 2026-11-26, 2-core AMD EPYC, Python
# 3.11): bare interpreter start 23.4 ms + `import pipeline.handler` 89.8 ms = Lambda's INIT of this
# handler; import + configure() 450 ms, so the first call adds 360.2 ms (the boto3 clients).
BENCH_INIT_MS = 23.4 + 89.8
BENCH_FIRST_CALL_MS = 450.0 - 89.8
BENCH_SOURCE = (
    "tests/benchmarks/bench_cold_start.py, measured 2026-11-26 (docs/benchmarks.md): INIT 113 ms "
    "(interpreter 23 ms + import 90 ms), first call +360 ms (configure(): boto3 clients)"
)


@dataclass(frozen=True)
class ColdStartTimes:
    """What one cold start costs: Lambda's INIT, and the extra Duration of the environment's first call."""

    init_ms: float
    first_call_ms: float
    source: str

    @property
    def penalty_ms(self) -> float:
        return self.init_ms + self.first_call_ms

    def to_dict(self) -> dict[str, Any]:
        return {
            "init_ms": round(self.init_ms, 1),
            "first_call_ms": round(self.first_call_ms, 1),
            "penalty_ms": round(self.penalty_ms, 1),
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ColdStartTimes:
        return cls(float(values["init_ms"]), float(values["first_call_ms"]), str(values["source"]))


BENCH_DEFAULT = ColdStartTimes(BENCH_INIT_MS, BENCH_FIRST_CALL_MS, BENCH_SOURCE)


def from_invocations(trace: pd.DataFrame, first_call_ms: float, run: str) -> ColdStartTimes:
    """The run's own cold start: the median Init Duration of its REPORT lines (the `init_duration_ms`
    column) and the first invocations' excess over the fit (capacity.fit.cold_start_ms). Without any Init
    Duration in the run, the benchmark's INIT is used, and the source says so."""
    column = trace["init_duration_ms"] if "init_duration_ms" in trace.columns else pd.Series(dtype=float)
    inits = pd.to_numeric(column, errors="coerce").dropna()
    if inits.empty:
        return ColdStartTimes(
            BENCH_INIT_MS,
            first_call_ms,
            f"{run}: first call +{first_call_ms:.0f} ms measured; no Init Duration in its REPORT lines, INIT "
            f"{BENCH_INIT_MS:.0f} ms from the benchmark ({BENCH_SOURCE})",
        )
    return ColdStartTimes(
        float(inits.median()),
        first_call_ms,
        f"{run}: median Init Duration of {inits.size} REPORT lines, first call excess over the fit",
    )


def count_day(
    lanes_per_minute: np.ndarray,
    lane_rate_per_minute_rps: np.ndarray,
    *,
    idle_lifetime_s: float = quotas.LAMBDA_ENV_IDLE_LIFETIME_S,
    max_lifetime_s: float = quotas.LAMBDA_ENV_MAX_LIFETIME_S,
) -> dict[str, float]:
    """Expected cold starts over a day that repeats, minute by minute.

    `lanes_per_minute`: shards x PF in each minute; `lane_rate_per_minute_rps`: records/s reaching one lane
    in that minute (Poisson). Environments still warm at a minute are the most lanes used within the idle
    lifetime before it (yesterday's end for the first minutes)."""
    lanes = np.asarray(lanes_per_minute, dtype=float)
    rate = np.asarray(lane_rate_per_minute_rps, dtype=float)
    idle_minutes = max(1, math.ceil(idle_lifetime_s / 60.0))
    # The most lanes of the previous idle_minutes minutes, circularly (the day repeats).
    warm = np.max([np.roll(lanes, shift) for shift in range(1, idle_minutes + 1)], axis=0)
    new_lanes = float(np.maximum(lanes - warm, 0.0).sum())
    # A lane's record in minute m finds its environment expired when nothing reached that lane during the
    # idle lifetime before: P(record in m) x P(none in the previous idle_minutes).
    expected = rate * 60.0
    window = np.sum([np.roll(expected, shift) for shift in range(1, idle_minutes + 1)], axis=0)
    idle = float(np.sum(lanes * -np.expm1(-expected) * np.exp(-window)))
    recycled = float(lanes.sum() * 60.0 / max_lifetime_s)
    return {
        "new_lanes": round(new_lanes, 2),
        "idle_expiry": round(idle, 2),
        "recycled": round(recycled, 2),
        "total": round(new_lanes + idle + recycled, 2),
    }


def count_steady(lanes: int, lane_rate_rps: float) -> dict[str, float]:
    """Cold starts per day of a fixed lane count at a steady rate (no reshard, no PF change)."""
    minutes = np.full(MINUTES_PER_DAY, float(lanes))
    return count_day(minutes, np.full(MINUTES_PER_DAY, lane_rate_rps))


def lane_setup(
    recommendation: dict[str, Any], service: ServiceTimeModel, workload: Workload, space: SearchSpace
) -> tuple[LaneSimConfig, float, float]:
    """The recommendation's hottest lane as the planner simulates it (capacity/search.py's speed rule): its
    configuration, its rate, and the speed factor on the measured times at the chosen memory/architecture."""
    shards, pf = int(recommendation["shards"]), int(recommendation["parallelization_factor"])
    speed = speed_factor(int(recommendation["memory_mb"]), recommendation["architecture"], service, space)
    config = LaneSimConfig(
        batch_size=int(recommendation["batch_size"]),
        batching_window_s=float(recommendation["batching_window_s"]),
        service_ms=(service.a_ms * speed, service.b_ms_per_record * speed, service.c_ms_per_kib * speed),
        record_bytes=workload.record_bytes,
        read=space.read_path(recommendation["consumer_mode"], 1 + workload.other_consumers),
    )
    return config, workload.rate_rps * workload.keys.max_lane_share(shards, pf), speed


@dataclass(frozen=True)
class ColdImpact:
    """One cold start on a busy lane: how much later each record it delays ends, and the warm e2e."""

    warm_e2e_ms: np.ndarray  # the lane's steady state
    increase_ms: np.ndarray  # per delayed record, in arrival order: its e2e with the cold start minus without

    @property
    def delayed_e2e_ms(self) -> np.ndarray:
        """The delayed records' e2e when a cold start hits the steady lane: a block of steady records, each
        later by its increase (the simulation's first records are a start-up, not steady, so the increases,
        not their e2e, are carried over)."""
        if self.increase_ms.size == 0 or self.warm_e2e_ms.size == 0:
            return self.increase_ms
        return np.resize(self.warm_e2e_ms, self.increase_ms.size) + self.increase_ms

    def p99_ms(self, delayed_share: float) -> float:
        """The e2e p99 when `delayed_share` of the records are ones delayed by a cold start."""
        share = min(max(delayed_share, 0.0), 1.0)
        delayed = self.delayed_e2e_ms
        if self.warm_e2e_ms.size == 0:  # a lane with no record in a day: nothing to delay
            return float(delayed.max()) if delayed.size else 0.0
        if delayed.size == 0 or share == 0.0:
            return float(np.percentile(self.warm_e2e_ms, 99))
        values = np.concatenate([self.warm_e2e_ms, delayed])
        weights = np.concatenate(
            [
                np.full(self.warm_e2e_ms.size, (1.0 - share) / self.warm_e2e_ms.size),
                np.full(delayed.size, share / delayed.size),
            ]
        )
        return weighted_quantile(values, weights, 0.99)


def impact(config: LaneSimConfig, lane_rate_rps: float, penalty_ms: float, seed: int = 0) -> ColdImpact:
    """Simulate the lane warm, and with a cold first invocation on the same arrivals. The records a cold start
    delays are those of its batch and of every batch after it until one closes with no backlog (its iterator
    age within the warm lane's p99): the schedule behind is shifted, not slower, so records later than that
    have the warm lane's e2e distribution."""
    # Long enough for a few hundred records on a quiet lane (at most a day).
    duration_s = min(max(SIMULATED_S, MIN_SIMULATED_RECORDS / max(lane_rate_rps, 1e-9)), SECONDS_PER_DAY)
    profile = [(duration_s, lane_rate_rps)]
    warm = simulate_lane(config, profile, seed=seed)
    cold = simulate_lane(replace(config, cold_start_ms=config.cold_start_ms + penalty_ms), profile, seed=seed)
    steady = (warm.arrival_s >= duration_s * 0.1) & (warm.arrival_s < duration_s)
    if not steady.any():
        steady = warm.arrival_s < duration_s
    if cold.batch_records.size == 0:
        return ColdImpact(warm.e2e_s[steady] * 1000.0, np.zeros(0))
    threshold_s = float(np.percentile(warm.iterator_age_s, 99)) if warm.iterator_age_s.size else 0.0
    caught_up = np.nonzero(cold.iterator_age_s[1:] <= threshold_s + 1e-9)[0]
    last = int(caught_up[0]) + 1 if caught_up.size else cold.batch_records.size - 1
    delayed = int(cold.batch_records[: last + 1].sum())
    # A cold start makes no record earlier (a shifted schedule may, by a few ms: not counted).
    increase_s = np.maximum(cold.e2e_s[:delayed] - warm.e2e_s[:delayed], 0.0)
    return ColdImpact(warm.e2e_s[steady] * 1000.0, increase_s * 1000.0)


def assess(
    recommendation: dict[str, Any],
    inputs: PlanInputs,
    cold: ColdStartTimes,
    *,
    per_day: dict[str, float] | None = None,
    schedule: str | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """`details.cold_starts` and `details.provisioned_concurrency` of one recommendation.

    `per_day`: cold starts counted over a day's shard and PF schedule (capacity/scaling_policies.py);
    without, the plan's lanes at its rate all day."""
    workload = inputs.workload
    shards, pf = int(recommendation["shards"]), int(recommendation["parallelization_factor"])
    lanes = shards * pf
    config, hot_rate, speed = lane_setup(recommendation, inputs.service, workload, inputs.space)
    counts = per_day if per_day is not None else count_steady(lanes, workload.rate_rps / lanes)
    # INIT and the first call are CPU-bound (imports, client construction): they scale with the memory's
    # CPU share like the service time.
    penalty_ms = cold.penalty_ms * speed
    effect = impact(config, hot_rate, penalty_ms, seed)
    per_lane = counts["total"] / lanes
    records_per_lane_day = hot_rate * SECONDS_PER_DAY
    delayed = effect.increase_ms.size
    day_share = per_lane * delayed / max(records_per_lane_day, 1e-9)
    minute_share = delayed / max(hot_rate * 60.0, 1e-9)
    warm_p99 = effect.p99_ms(0.0)
    cold_p99 = effect.p99_ms(day_share)
    minute_p99 = effect.p99_ms(minute_share)
    cold_starts = {
        "times": cold.to_dict(),
        "penalty_at_plan_memory_ms": round(penalty_ms, 1),
        "lanes": lanes,
        "at_each_deploy": lanes,
        "per_day": counts,
        "per_day_schedule": schedule
        or f"{lanes} lane{'s' if lanes > 1 else ''} all day at {workload.rate_rps:,.0f} records/s",
        "records_delayed_per_cold_start": delayed,
        "max_e2e_of_a_cold_start_ms": round(float(effect.delayed_e2e_ms.max()), 1) if delayed else None,
        "max_delay_of_a_cold_start_ms": round(float(effect.increase_ms.max()), 1) if delayed else None,
        "e2e_p99_warm_ms": round(warm_p99, 1),
        "e2e_p99_with_cold_starts_ms": round(cold_p99, 1),
        "e2e_p99_of_a_minute_with_a_cold_start_ms": round(minute_p99, 1),
        "assumptions": [
            f"an idle environment lives {quotas.LAMBDA_ENV_IDLE_LIFETIME_S / 60:g} min and any "
            f"environment at most {quotas.LAMBDA_ENV_MAX_LIFETIME_S / 3600:g} h: observed by third "
            f"parties, not documented by AWS ({quotas.LAMBDA_IDLE_OBSERVED_URL}; "
            f"{quotas.LAMBDA_RECYCLE_OBSERVED_URL}; "
            f"{quotas.LAMBDA_EXECUTION_ENVIRONMENT_URL})",
            "environments belong to the function version: after a reshard or a PF change only the lanes "
            "above those still warm start cold",
            "the p99 effect is simulated on the hottest lane at the planning rate; BER input adds the "
            "first BER record's 1.3 s import of the ASN.1 module (docs/benchmarks.md, bench_ber) to each "
            "cold start",
        ],
    }
    provisioned = compare_provisioned(
        recommendation, counts, cold, inputs.prices, inputs.slo, warm_p99, cold_p99
    )
    return {"cold_starts": cold_starts, "provisioned_concurrency": provisioned}


def compare_provisioned(
    recommendation: dict[str, Any],
    per_day: dict[str, float],
    cold: ColdStartTimes,
    prices: Prices,
    slo: Slo,
    warm_p99_ms: float,
    cold_p99_ms: float,
) -> dict[str, Any]:
    """No provisioned concurrency against PC on an alias sized to shards x PF, per month, and the verdict.

    With PC every invocation of the mapping runs on a provisioned environment (the mapping never runs more
    than shards x PF at once): its duration is billed at the PC duration price, plus the PC itself for every
    second of the month; requests cost the same. Without, cold starts' INIT is billed as duration."""
    lanes = int(recommendation["shards"]) * int(recommendation["parallelization_factor"])
    architecture = str(recommendation["architecture"])
    memory_gb = float(recommendation["memory_mb"]) / 1024.0
    on_demand_price = prices.lambda_gb_second_usd(architecture)
    pc_price, pc_duration_price = prices.lambda_provisioned_gb_second_usd(architecture)
    breakdown = recommendation["cost_breakdown_usd"]
    duration_usd = float(breakdown.get("lambda_duration", 0.0))
    requests_usd = float(breakdown.get("lambda_requests", 0.0))
    gb_seconds = duration_usd / on_demand_price  # the plan's invocations' GB-seconds per month
    init_usd = per_day["total"] * DAYS_PER_MONTH * cold.init_ms / 1000.0 * memory_gb * on_demand_price
    without = requests_usd + duration_usd + init_usd
    provisioned_usd = lanes * memory_gb * quotas.SECONDS_PER_MONTH * pc_price
    with_pc = requests_usd + gb_seconds * pc_duration_price + provisioned_usd
    busy_share = gb_seconds / max(lanes * memory_gb * quotas.SECONDS_PER_MONTH, 1e-12)
    break_even = pc_price / (on_demand_price - pc_duration_price)
    cheaper = with_pc < without
    slo_needs_pc = cold_p99_ms > slo.e2e_p99_ms >= warm_p99_ms
    sentence = (
        f"provisioned concurrency of {lanes} (shards x PF) at {recommendation['memory_mb']} MB "
        f"{architecture} costs {with_pc:,.2f} USD/month for the function against {without:,.2f} without "
        f"({with_pc - without:+,.2f}); it pays on price only when the lanes are busy more than "
        f"{break_even:.0%} of the time, and this plan's are {busy_share:.1%} busy. It would remove "
        f"{per_day['total']:,.1f} cold starts a day, which move the e2e p99 from {warm_p99_ms:,.0f} to "
        f"{cold_p99_ms:,.0f} ms"
    )
    if cheaper:
        verdict = "pays: cheaper than on-demand at this utilisation"
    elif slo_needs_pc:
        verdict = "pays for the SLO: without it cold starts push the e2e p99 over the SLO"
    else:
        verdict = "does not pay: dearer, and the SLO holds without it"
    return {
        "provisioned_concurrency": lanes,
        "monthly_usd_without": round(without, 2),
        "monthly_usd_with": round(with_pc, 2),
        "breakdown_without_usd": {
            "lambda_requests": round(requests_usd, 2),
            "lambda_duration": round(duration_usd, 2),
            "cold_start_init": round(init_usd, 2),
        },
        "breakdown_with_usd": {
            "lambda_requests": round(requests_usd, 2),
            "lambda_duration_on_pc": round(gb_seconds * pc_duration_price, 2),
            "provisioned_concurrency": round(provisioned_usd, 2),
        },
        "prices_per_gb_second_usd": {
            "on_demand_duration": on_demand_price,
            "provisioned_concurrency": pc_price,
            "duration_on_provisioned": pc_duration_price,
        },
        "provisioned_usd_per_hour": round(lanes * memory_gb * 3600.0 * pc_price, 4),
        "lanes_busy_share": round(busy_share, 4),
        "break_even_busy_share": round(break_even, 4),
        "e2e_p99_without_ms": round(cold_p99_ms, 1),
        "e2e_p99_with_ms": round(warm_p99_ms, 1),
        "pays": cheaper or slo_needs_pc,
        "verdict": verdict,
        "sentence": f"{sentence}: {verdict}.",
        "source": quotas.LAMBDA_PRICING_URL,
    }


def for_day(
    details: dict[str, Any], recommendation: dict[str, Any], inputs: PlanInputs, cold: ColdStartTimes
) -> None:
    """Recount `details.cold_starts` (and the PC comparison) over the day of `details.scaling_policies`,
    under the policy it recommends (static provisioning when none meets the SLO)."""
    scaling = details.get("scaling_policies")
    if not scaling or details.get("cold_starts") is None:
        return
    name = scaling.get("recommended") or "provisioned_static"
    policy = next(p for p in scaling["policies"] if p["policy"] == name)
    schedule = f"{name} over the day of {scaling['traffic'].get('source', 'the traffic given')}"
    details.update(
        assess(recommendation, inputs, cold, per_day=policy["cold_starts_per_day"], schedule=schedule)
    )
