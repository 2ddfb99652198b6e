"""`details.scaling_policies`: every scaling policy run over the day (capacity/scaling.py), summarised, and
the cheapest one that keeps every minute within the SLO, with the schedule or scaler settings it implies."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import numpy as np

from capacity import cold_starts, quotas
from capacity.scaling import (
    LIMITS,
    RESHARD_MINUTES,
    SERIES_STEP_MINUTES,
    DayContext,
    build_context,
    established_peak_rps,
    fit_schedule,
    needed_shards,
    policy_cost,
    run_on_demand,
    run_provisioned,
    schedule_controller,
)
from capacity.scaling_flow import MINUTE_S, Series
from capacity.search import PlanInputs, Slo
from capacity.traffic import TrafficDay
from scaler.policy import Decision, Observation, ScalerPolicy, decide

REACTIVE_WARMUP_DAYS = 2  # the scaler's state (shards, calls of the last 24 h) at midnight is yesterday's


def reactive_policy(context: DayContext, slo: Slo) -> ScalerPolicy:
    """The scaler's settings for this plan: IteratorAge thresholds from the SLO, shards between the plan's
    quietest need and the account's default quota."""
    return ScalerPolicy(
        iterator_age_high_ms=slo.iterator_age_max_ms / 3.0,
        iterator_age_low_ms=min(2_000.0, slo.iterator_age_max_ms / 30.0),
        max_shards=quotas.MAX_PLANNABLE_SHARDS,
    )


def add_day(
    details: dict[str, Any],
    recommendation: dict[str, Any],
    inputs: PlanInputs,
    day: TrafficDay,
    cold: cold_starts.ColdStartTimes,
) -> None:
    """The plan over a traffic day: `details.scaling_policies`, and the cold starts and PC comparison
    recounted under the policy it recommends."""
    details["scaling_policies"] = compare(recommendation, inputs, day)
    cold_starts.for_day(details, recommendation, inputs, cold)


def compare(recommendation: dict[str, Any], inputs: PlanInputs, day: TrafficDay) -> dict[str, Any]:
    """Run every policy over `day` with the plan's configuration; the dict of `details.scaling_policies`."""
    slo, workload = inputs.slo, inputs.workload
    context = build_context(recommendation, inputs, day)
    rates = day.rates_per_minute_rps()
    static_shards, pf = recommendation["shards"], recommendation["parallelization_factor"]
    schedule = fit_schedule(needed_shards(context, rates))
    scaler = reactive_policy(context, slo)

    def reactive(minute: int, observation: Observation) -> Decision:
        return decide(observation, LIMITS, scaler)

    warm_rps = rates.max() * slo.headroom_factor
    runs: list[tuple[str, str, Series, dict[str, float], dict[str, Any]]] = []
    static = run_provisioned(context, static_shards, pf, None)
    runs.append(
        (
            "provisioned_static",
            f"{static_shards} shards all day (peak x {slo.headroom_factor:g} headroom), PF {pf}",
            static,
            policy_cost(context, static, "PROVISIONED"),
            {},
        )
    )
    scheduled = run_provisioned(context, schedule[0][1], pf, schedule_controller(schedule, rates.size))
    runs.append(
        (
            "provisioned_schedule",
            f"{len(schedule)} shard levels a day by UpdateShardCount at fixed times (fitted to this day)",
            scheduled,
            policy_cost(context, scheduled, "PROVISIONED"),
            {"schedule": [{"at": _clock(day, start), "shards": shards} for start, shards in schedule]},
        )
    )
    reacted = run_provisioned(context, static_shards, pf, reactive, days=REACTIVE_WARMUP_DAYS)
    runs.append(
        (
            "provisioned_reactive",
            "the scaler (scaler/policy.py): IncomingRecords utilisation and IteratorAge thresholds, PF first",
            reacted,
            policy_cost(context, reacted, "PROVISIONED"),
            {"scaler": asdict(scaler)},
        )
    )
    on_demand = run_on_demand(context, pf)
    runs.append(
        (
            "on_demand_standard",
            "on-demand Standard: up to 2x the previous peak at once, more after ~15 min of throttling",
            on_demand,
            policy_cost(context, on_demand, "ON_DEMAND"),
            {"assumed_previous_peak_rps": round(established_peak_rps(rates), 1)},
        )
    )
    warm = run_on_demand(context, pf, warm_rps=warm_rps)
    runs.append(
        (
            "on_demand_advantage_warm",
            f"On-demand Advantage, warm throughput at peak x {slo.headroom_factor:g} "
            f"({warm_rps * workload.record_bytes / quotas.MIB:,.1f} MiB/s)",
            warm,
            policy_cost(context, warm, "ON_DEMAND", advantage=True),
            {
                "warm_throughput_mib_per_s": round(warm_rps * workload.record_bytes / quotas.MIB, 2),
                "note": "data priced at 40 % of Standard (AWS: 'at least 60% lower'); the minimum throughput "
                "commitment is not priced (its size is not in the cited pages)",
            },
        )
    )
    policies = [_summary(context, *run) for run in runs]
    meeting = [p for p in policies if p["meets_slo"]]
    best = min(meeting, key=lambda p: p["monthly_cost_usd"]) if meeting else None
    window = context.recommendation["batching_window_s"]
    return {
        "traffic": day.describe(),
        "batching_window_s": window,
        "batching_window_note": (
            f"Batching window {window} s instead of the plan's {recommendation['batching_window_s']} s: at "
            "the day's quietest minutes batches close on the window, and the plan's would miss the e2e p99."
            if window != recommendation["batching_window_s"]
            else ""
        ),
        "policies": policies,
        "recommended": best["policy"] if best else None,
        "sentence": _sentence(best, policies),
        "series_step_minutes": SERIES_STEP_MINUTES,
        "load_rps": _downsample(rates),
        "assumptions": [
            "the day repeats all month; each policy is priced from its own shard-minutes and invocations",
            f"a reshard takes {RESHARD_MINUTES} min ('a few minutes', {quotas.KDS_UPDATE_SHARD_COUNT_URL})",
            "producers retry throttled records the next minute; a minute with > 1 % throttled is over the "
            "SLO",
            "on-demand: the previous 30 days peaked at this day's highest hourly mean rate; one consumer "
            "lane per 1,000 records/s of write capacity x PF",
            "the hottest lane of the plan's configuration, per minute, from the analytic model; a backlog "
            "adds its drain time to the iterator age and e2e latency",
        ],
        "sources": [quotas.KDS_CAPACITY_MODES_URL, quotas.KDS_ON_DEMAND_ADVANTAGE_BLOG_URL],
        "quotas_as_of": quotas.AS_OF,
    }


def _summary(
    context: DayContext,
    name: str,
    description: str,
    series: Series,
    cost: dict[str, float],
    extra: dict[str, Any],
) -> dict[str, Any]:
    over = series.array("over_slo")
    age = series.array("iterator_age_ms")
    return {
        "policy": name,
        "description": description,
        "monthly_cost_usd": round(sum(cost.values()), 2),
        "cost_breakdown_usd": cost,
        "minutes_over_slo": int(over.sum()),
        "meets_slo": bool(over.sum() == 0),
        "max_iterator_age_ms": round(float(age.max()), 1),
        "records_throttled": round(float(series.array("throttled").sum())),
        "shard_count_changes": len(series.shard_calls),
        "parallelization_factor_changes": len(series.pf_changes),
        "refused_shard_calls": series.refused_calls,
        "cold_starts_per_day": _cold_starts(series),
        "shards_min_max": [int(min(series.shards)), int(max(series.shards))],
        "shard_calls": [
            {**call, "at": _clock(context.day, int(call["minute"]))}  # type: ignore[call-overload]
            for call in series.shard_calls
        ],
        "series": {
            "shards": _downsample(np.array(series.shards)),
            "parallelization_factor": _downsample(np.array(series.pf, dtype=float)),
            "write_capacity_rps": _downsample(np.array(series.write_capacity_rps)),
            "iterator_age_ms": _downsample(age),
        },
        **extra,
    }


def _cold_starts(series: Series) -> dict[str, float]:
    """Cold starts of the policy's day: its lanes (shards x PF) and each lane's records, minute by minute."""
    lanes = np.maximum(np.array(series.shards) * np.array(series.pf, dtype=float), 1.0)
    return cold_starts.count_day(lanes, series.array("accepted") / MINUTE_S / lanes)


def _downsample(values: np.ndarray) -> list[float]:
    """The maximum of each SERIES_STEP_MINUTES, rounded: enough for a plot of the day."""
    step = SERIES_STEP_MINUTES
    padded = np.full(-(-values.size // step) * step, -np.inf)
    padded[: values.size] = values
    return [round(float(v), 1) for v in padded.reshape(-1, step).max(axis=1)]


def _clock(day: TrafficDay, minute: int) -> str:
    return datetime.fromtimestamp(day.start_epoch_s + minute * MINUTE_S, UTC).strftime("%H:%M")


def _sentence(best: dict[str, Any] | None, policies: list[dict[str, Any]]) -> str:
    if best is None:
        closest = min(policies, key=lambda p: (p["minutes_over_slo"], p["monthly_cost_usd"]))
        return (
            f"no policy keeps every minute within the SLO on this day; the closest is {closest['policy']} "
            f"({closest['minutes_over_slo']} minutes over, {closest['monthly_cost_usd']:,.2f} USD/month)"
        )
    static = next(p for p in policies if p["policy"] == "provisioned_static")
    if best is static:
        return (
            "static provisioning is the cheapest policy with no minute over the SLO on this day "
            f"({best['monthly_cost_usd']:,.2f} USD/month)"
        )
    head = (
        f"{best['policy']} is the cheapest policy with no minute over the SLO on this day: "
        f"{best['monthly_cost_usd']:,.2f} USD/month, "
    )
    saving = static["monthly_cost_usd"] - best["monthly_cost_usd"]
    if static["meets_slo"] or saving > 0:
        return head + f"{saving:,.2f} less than static provisioning"
    # Static at the plan's shards is cheaper only because it misses the SLO (the day peaks above the plan).
    return head + (
        f"{-saving:,.2f} more than static provisioning at the plan's {static['shards_min_max'][0]} shards, "
        f"which is {static['minutes_over_slo']} minutes over the SLO on this day"
    )
