"""The planner: the cheapest configuration that meets the SLO within every quota, and why.

Search: the analytic model scores the whole grid (capacity/search.py) and prunes it to the cheapest
feasible configurations; the simulator then checks those finalists in order, and the first that still
meets the SLO is the recommendation. The output is the summary.json `recommendation` dict of contracts.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from capacity import aggregation, cold_starts, costs, quotas
from capacity.cold_starts import ColdStartTimes
from capacity.consumer_mode import consumer_mode_comparison
from capacity.explain import (
    binding_sentence,
    cost_curve,
    on_demand_alternative,
)
from capacity.fit import ServiceTimeModel
from capacity.interval_calibration import model_margin
from capacity.intervals import from_replications, predicted
from capacity.quotas import US_EAST_1, Prices
from capacity.resharding import minimum_hours, resharding_path
from capacity.resource_use import design_comparison
from capacity.search import Grid, PlanInputs, SearchSpace, Slo, Workload, evaluate_mode, shard_bounds
from capacity.simulate import LaneSimConfig, simulate_lane
from capacity.sinks import failed_sentence, quota_checks

RUNNER_UPS = 3
PLUS_LOAD_FACTOR = 1.5
WARMUP_FRACTION = 0.1
MAX_SIMULATED_BATCHES = 4_000
MAX_CANDIDATES_SCANNED = 20_000
BURST_OVER_HEADROOM = 1.25
BURST_LEAD_S = 30.0
BURST_S = 30.0
BURST_TAIL_S = 240.0
BURST_RECOVERED_MS = 1_000.0


# A candidate's recommendation-shaped dict, and where it sits in the grids (for further simulation).
Finalist = tuple[dict[str, Any], tuple[Grid, int]]


@dataclass(frozen=True)
class Plan:
    """The planner's answer: `recommendation` (contracts.md shape), or the closest miss if not feasible."""

    feasible: bool
    recommendation: dict[str, Any]
    details: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"feasible": self.feasible, "recommendation": self.recommendation, "details": self.details}


def plan(
    service: ServiceTimeModel,
    workload: Workload,
    slo: Slo | None = None,
    space: SearchSpace | None = None,
    prices: Prices = US_EAST_1,
    *,
    seed: int = 0,
    include_plus_50pct: bool = True,
    cold: ColdStartTimes = cold_starts.BENCH_DEFAULT,
) -> Plan:
    """Plan shards, PF, batch, window, memory, architecture and consumer mode for `workload` under `slo`;
    `cold`: what a cold start costs (a run's measurement, else the cold-start benchmark's)."""
    slo = slo or Slo()
    space = space or SearchSpace()
    workload.validate()
    bounds = shard_bounds(workload, slo)
    needed = min(bounds.minimum(mode) for mode in space.consumer_modes)
    if needed > quotas.MAX_PLANNABLE_SHARDS:
        return _beyond_aws(service, workload, slo, space, prices, seed, needed, cold)
    grids = [
        evaluate_mode(
            mode,
            _shard_candidates(bounds.minimum(mode), space),
            service,
            workload,
            slo,
            space,
            prices,
            bounds.hot_key_fits,
        )
        for mode in space.consumer_modes
    ]
    finalists = _simulate_finalists(grids, service, workload, slo, space, seed)
    feasible = bool(finalists)
    missed: list[str] = []
    if not finalists:
        closest, missed = _closest(grids, service, workload, space, seed)
        finalists = [closest]
    best, (best_grid, best_index) = finalists[0]
    invocations_per_s = float(best_grid.invocations_per_s[best_index])
    checks = quota_checks(best, invocations_per_s, workload, slo, space)
    sinks_fit = all(check.ok for check in checks)
    why = binding_sentence(best, bounds, workload, slo, feasible)
    if not feasible and bounds.hot_key_fits:
        why = f"NO configuration meets the SLO within quotas; the closest misses: {'; '.join(missed)}. {why}"
    if not sinks_fit:
        why = f"the pipeline's sinks exceed default quotas: {failed_sentence(checks)}. {why}"
    slo_met, feasible = feasible, feasible and sinks_fit
    recommendation = {
        **best,
        "binding_constraint": why,
        "runner_ups": [candidate for candidate, _ in finalists[1:]],
        "resharding_path": resharding_path(workload.current_shards, best["shards"])
        if workload.current_shards
        else [],
        "at_plus_50pct": {},
        "slo": slo.to_dict(),
        "cost_curve": cost_curve(grids),
    }
    if include_plus_50pct:
        heavier = replace(workload, rate_rps=workload.rate_rps * PLUS_LOAD_FACTOR)
        later = plan(service, heavier, slo, space, prices, seed=seed, include_plus_50pct=False, cold=cold)
        recommendation["at_plus_50pct"] = {
            key: value
            for key, value in later.recommendation.items()
            if key
            not in (
                "runner_ups",
                "resharding_path",
                "at_plus_50pct",
                "slo",
                "predicted",
                "binding_constraint",
                "cost_curve",
                "consumer_modes",
            )
        } | {"feasible": later.feasible}
    comparison = consumer_mode_comparison(grids, workload, slo)
    recommendation["consumer_modes"] = comparison  # for the report (reports/content.py), beside the choice
    details = {
        "slo_met": slo_met,  # the SLO alone (feasible also needs every sink within its quota)
        "resource_use_per_cdr": workload.use.describe(workload.rate_rps / max(invocations_per_s, 1e-9)),
        "quota_checks": [check.to_dict() for check in checks],
        "exactly_once_designs": design_comparison(
            workload.use,
            workload.rate_rps,
            prices.ddb_write_request_units_per_million_usd,
            prices.ddb_read_request_units_per_million_usd,
            measured_design=workload.exactly_once,
        ),
        "dynamodb_capacity_modes": costs.dynamodb_capacity_modes(
            costs.CostInputs(workload.rate_rps, workload.record_bytes, use=workload.use),
            slo.headroom_factor,
            prices,
        ),
        "shard_bounds": {
            "by_records_per_s": bounds.by_records,
            "by_bytes_per_s": bounds.by_bytes,
            "by_shared_read_bytes_per_s": bounds.by_shared_read,
            "hot_key_fits_one_shard": bounds.hot_key_fits,
        },
        "on_demand_alternative": on_demand_alternative(best, workload, prices),
        "aggregation": aggregation.comparison(workload, slo, best, prices),
        "burst_beyond_headroom": burst_recovery(best_grid, best_index, service, workload, slo, seed)
        if slo_met
        else None,
        "consumer_modes": comparison,
        "resharding_minimum_hours": minimum_hours(recommendation["resharding_path"]),
        **_cold_starts(recommendation, PlanInputs(service, workload, slo, space, prices), cold, seed),
        "key_distribution": workload.keys.description,
        "service_time_model": service.to_dict(),
        "prediction_intervals": model_margin().describe(),
        "memory_scaling": memory_scaling(space),
        "quotas_as_of": quotas.AS_OF,
        "prices_region": prices.region,
        "assumptions": [
            "cost priced as if the planning rate held all month",
            *_memory_assumptions(space),
            "predicted latencies are for the hottest lane",
            f"{workload.cdrs_per_record:g} CDRs per Kinesis record: the write-records limit and PUT "
            "payload units see Kinesis records; the consumer model, its batch_size and rates count CDRs",
            f"resource use per CDR: {workload.use.source}",
            f"e2e latency includes {workload.producer_wait_ms:g} ms of producer buffering (p99: all of it)",
            _hot_partition_assumption(workload.exactly_once),
        ],
    }
    return Plan(feasible, recommendation, details)


def _hot_partition_assumption(design: str) -> str:
    if design == "ledger":
        return (
            "sink quotas checked at the rate x headroom; exactly-once design ledger: the hottest DynamoDB "
            "partition key is the hottest shard's claims and delta keys, at its CDRs x ledger's write units "
            "per CDR (bench_handler)"
        )
    return (
        "sink quotas checked at the rate x headroom; the hottest DynamoDB item's writes scale with the "
        "CDRs per batch at the measured batch size, at least one per invocation"
    )


def memory_scaling(space: SearchSpace) -> dict[str, str]:
    """Which the plan used for memory and architecture: a sweep's measured curve or the estimate."""
    curve = space.measured_curve
    if curve is not None:
        return {"kind": "measured", "source": curve.source, "sentence": curve.sentence(space.architectures)}
    return {
        "kind": "estimate",
        "source": "capacity/fit.py memory_time_factor",
        "sentence": "; ".join(_memory_assumptions(space)),
    }


def _memory_assumptions(space: SearchSpace) -> list[str]:
    """How the service time changes with memory and architecture: measured by a sweep, or estimated."""
    if space.measured_curve is not None:
        return [space.measured_curve.sentence(space.architectures)]
    return [
        "memory scaling of the service time is an estimate (CPU share up to 1,769 MB, single-threaded)",
        f"arm64 duration factor {space.arm64_duration_factor} (not measured)",
    ]


def _beyond_aws(
    service: ServiceTimeModel,
    workload: Workload,
    slo: Slo,
    space: SearchSpace,
    prices: Prices,
    seed: int,
    needed: int,
    cold: ColdStartTimes,
) -> Plan:
    """A load no account can take without a quota negotiation: say so at once, with the plan for the
    largest rate the most shards an account gets by default can carry (the closest feasible plan)."""
    limit = quotas.MAX_PLANNABLE_SHARDS
    # Shard needs grow (almost) linearly with the rate; shrink until the bound holds.
    rate = workload.rate_rps * limit / needed
    for _ in range(20):
        if (
            min(shard_bounds(replace(workload, rate_rps=rate), slo).minimum(m) for m in space.consumer_modes)
            <= limit
        ):
            break
        rate *= 0.95
    closest = plan(
        service,
        replace(workload, rate_rps=rate),
        slo,
        space,
        prices,
        seed=seed,
        include_plus_50pct=False,
        cold=cold,
    )
    why = (
        f"needs {needed:,} shards for {workload.rate_rps:,.0f} records/s at {slo.headroom_factor:g}x "
        f"headroom; the most a stream can have without a quota negotiation is {limit:,} (the default shards "
        f"per account, {quotas.KDS_QUOTAS_URL}). Shown: the plan for {rate:,.0f} records/s, the largest rate "
        "that fits. " + closest.recommendation["binding_constraint"]
    )
    recommendation = {**closest.recommendation, "binding_constraint": why}
    details = {
        **closest.details,
        "beyond_aws": {"needed_shards": needed, "max_shards": limit, "planned_rate_rps": rate},
    }
    return Plan(False, recommendation, details)


def _cold_starts(
    recommendation: dict[str, Any], inputs: PlanInputs, cold: ColdStartTimes, seed: int
) -> dict[str, Any]:
    """`cold_starts` and `provisioned_concurrency` for the recommendation; None for an unstable lane
    (its latency is unbounded with or without cold starts)."""
    if recommendation["predicted"].get("e2e_latency_p99_ms") is None:
        return {"cold_starts": None, "provisioned_concurrency": None}
    return cold_starts.assess(recommendation, inputs, cold, seed=seed)


def _shard_candidates(minimum: int, space: SearchSpace) -> list[int]:
    return sorted({max(1, int(np.ceil(minimum * factor))) for factor in space.shard_multipliers})


def _candidate_dict(grid: Grid, index: int, predicted: dict[str, float | None]) -> dict[str, Any]:
    breakdown = costs.pick(grid.breakdown, index)
    return {
        **grid.config(index),
        "monthly_cost_usd": round(sum(breakdown.values()), 2),
        "cost_breakdown_usd": breakdown,
        "predicted": predicted,
    }


def _lane_config(grid: Grid, index: int, service: ServiceTimeModel, workload: Workload) -> LaneSimConfig:
    config = grid.config(index)
    speed = float(grid.speed[index])
    return LaneSimConfig(
        batch_size=config["batch_size"],
        batching_window_s=config["batching_window_s"],
        service_ms=(service.a_ms * speed, service.b_ms_per_record * speed, service.c_ms_per_kib * speed),
        record_bytes=workload.record_bytes,
        read=grid.read,
    )


def _predict(
    grid: Grid, index: int, service: ServiceTimeModel, workload: Workload, space: SearchSpace, seed: int
) -> dict[str, float | None]:
    """Simulate the hottest lane of one configuration at the planning rate, `space.replications` times.

    Each value is the median of the replications; the p99s also carry their 80% interval (`*_lo_ms`,
    `*_hi_ms`: the 10th and 90th percentiles of the replications widened by the calibrated margin,
    capacity/intervals.py), the spread of a
    p99 measured over one simulated window at that rate.
    """
    # The simulator's cost is one step per batch: bound the number of batches (an unstable lane diverges
    # within a few hundred anyway).
    cycles_s = max(float(grid.hot.cycle_s[index]), 1e-3) if np.isfinite(grid.hot.cycle_s[index]) else 1e-3
    duration_s = min(space.simulate_s, MAX_SIMULATED_BATCHES * cycles_s)
    config = _lane_config(grid, index, service, workload)
    profile = [(duration_s, float(grid.hot_lane_rate_rps[index]))]
    summaries = [
        simulate_lane(config, profile, seed=seed + k).summary(start_s=duration_s * WARMUP_FRACTION)
        for k in range(max(space.replications, 1))
    ]
    age = predicted(s["iterator_age_p99_ms"] for s in summaries)
    e2e = predicted(s["e2e_p99_ms"] for s in summaries)
    age_max_ms = max(
        from_replications(s["iterator_age_max_ms"] for s in summaries).central,
        float(grid.hot.iterator_age_max_s[index]) * 1000.0,
    )
    wait_ms = workload.producer_wait_ms  # the producer's buffering, before the stream (search.py)
    return {
        "iterator_age_p99_ms": _finite(age.central),
        "iterator_age_p99_lo_ms": _finite(age.low),
        "iterator_age_p99_hi_ms": _finite(age.high),
        "iterator_age_max_ms": _finite(age_max_ms),
        "e2e_latency_p50_ms": _finite(
            from_replications(s["e2e_p50_ms"] for s in summaries).central + wait_ms / 2
        ),
        "e2e_latency_p99_ms": _finite(e2e.central + wait_ms),
        "e2e_latency_p99_lo_ms": _finite(e2e.low + wait_ms),
        "e2e_latency_p99_hi_ms": _finite(e2e.high + wait_ms),
        "utilisation": _finite(float(grid.hot.utilisation[index]), 4),
    }


def burst_recovery(
    grid: Grid, index: int, service: ServiceTimeModel, workload: Workload, slo: Slo, seed: int
) -> dict[str, Any]:
    """How the recommendation rides out a burst BEYOND its headroom: 30 s at 1.25 x headroom x the rate."""
    lane_rate = float(grid.hot_lane_rate_rps[index])
    burst_factor = BURST_OVER_HEADROOM * slo.headroom_factor
    profile = [(BURST_LEAD_S, lane_rate), (BURST_S, lane_rate * burst_factor), (BURST_TAIL_S, lane_rate)]
    sim = simulate_lane(_lane_config(grid, index, service, workload), profile, seed=seed)
    steady = sim.summary(BURST_LEAD_S / 2, BURST_LEAD_S)
    threshold_ms = max(BURST_RECOVERED_MS, 2.0 * steady["iterator_age_p99_ms"])
    burst_end_s = BURST_LEAD_S + BURST_S
    return {
        "burst_rate_factor": burst_factor,
        "burst_s": BURST_S,
        "iterator_age_max_ms": _finite(sim.summary(BURST_LEAD_S, math.inf)["iterator_age_max_ms"]),
        "recovery_s": _finite(sim.recovery_s(burst_end_s, threshold_ms)),
        "recovered_below_iterator_age_ms": round(threshold_ms, 1),
    }


def _finite(value: float, digits: int = 1) -> float | None:
    """JSON has no infinity: an unbounded prediction (an unstable lane) is reported as null."""
    return round(value, digits) if np.isfinite(value) else None


def _simulate_finalists(
    grids: list[Grid], service: ServiceTimeModel, workload: Workload, slo: Slo, space: SearchSpace, seed: int
) -> list[Finalist]:
    """Cheapest analytic-feasible configurations, checked by simulation, recommendation first."""
    # Order every feasible configuration by (cost, analytic e2e p99) without building Python tuples.
    modes = np.concatenate([np.full(int(g.feasible.sum()), k) for k, g in enumerate(grids)])
    indexes = np.concatenate([np.nonzero(g.feasible)[0] for g in grids])
    cost = np.concatenate([g.cost_usd[g.feasible] for g in grids])
    e2e = np.concatenate([g.hot.e2e_p99_s[g.feasible] for g in grids])
    order = np.lexsort((e2e, cost))[:MAX_CANDIDATES_SCANNED]
    candidates = ((int(modes[o]), int(indexes[o])) for o in order)
    chosen: list[Finalist] = []
    seen: set[tuple[Any, ...]] = set()
    simulated = 0
    for k, index in candidates:
        grid = grids[k]
        config = grid.config(index)
        # Configurations that differ only in memory, architecture or a batch size that never fills
        # behave alike; one of each is enough among the runner-ups.
        shape = (
            config["shards"],
            config["parallelization_factor"],
            config["consumer_mode"],
            config["batching_window_s"],
            round(float(grid.hot.batch_records[index])),
        )
        if shape in seen:
            continue  # runner-ups that differ only in memory or architecture say little
        seen.add(shape)
        predicted = _predict(grid, index, service, workload, space, seed)
        simulated += 1
        if _meets(predicted, slo):
            chosen.append((_candidate_dict(grid, index, predicted), (grid, index)))
        if len(chosen) > RUNNER_UPS or simulated >= space.finalists + RUNNER_UPS:
            break
    return chosen


def _closest(
    grids: list[Grid], service: ServiceTimeModel, workload: Workload, space: SearchSpace, seed: int
) -> tuple[Finalist, list[str]]:
    """The configuration that misses least (worst ratio, then total excess, then cost), and what it misses."""
    k, index = min(
        ((k, int(np.lexsort((g.cost_usd, g.excess, g.violation))[0])) for k, g in enumerate(grids)),
        key=lambda pair: (
            grids[pair[0]].violation[pair[1]],
            grids[pair[0]].excess[pair[1]],
            grids[pair[0]].cost_usd[pair[1]],
        ),
    )
    closest = _candidate_dict(grids[k], index, _predict(grids[k], index, service, workload, space, seed))
    missed = grids[k].violated(index) or ["the simulated latency (the analytic model passed)"]
    return (closest, (grids[k], index)), missed


def _meets(predicted: dict[str, float | None], slo: Slo) -> bool:
    e2e_p99_ms = predicted["e2e_latency_p99_ms"]
    age_max_ms = predicted["iterator_age_max_ms"]
    return (
        e2e_p99_ms is not None
        and age_max_ms is not None
        and e2e_p99_ms <= slo.e2e_p99_ms
        and age_max_ms <= slo.iterator_age_max_ms
    )
