"""Scaling policies compared over a day of traffic: what each costs a month, and how often it misses the SLO.

Policies: provisioned static at the plan's shards (peak x headroom); provisioned with a schedule of
UpdateShardCount calls fitted to the day; provisioned with the reactive scaler (scaler/policy.py, the code
the deployed Lambda runs) plus its parallelization-factor moves; on-demand Standard; on-demand Advantage
with warm throughput at the peak x headroom. Every policy runs through the same per-minute lane model
(capacity/scaling_flow.py) with the plan's batch, window, memory and consumer mode, and is priced with
capacity/costs.py from its shard-minutes, invocations and the day's records, sinks included. The day is
priced as if it repeated all month. The recommendation: the cheapest policy with no minute over the SLO.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from capacity import costs, quotas
from capacity.fit import ServiceTimeModel, memory_time_factor
from capacity.model import steady_state
from capacity.quotas import Prices
from capacity.resharding import resharding_path
from capacity.scaling_flow import MINUTE_S, Flow, LaneModel, LaneSetup, Series
from capacity.search import PlanInputs, SearchSpace, Slo, Workload, min_shards, output_shards
from capacity.traffic import TrafficDay
from scaler.policy import Decision, Observation, StreamLimits

LIMITS = StreamLimits(
    shard_write_records_per_s=quotas.SHARD_WRITE_RECORDS_PER_S,
    shard_write_bytes_per_s=quotas.SHARD_WRITE_BYTES_PER_S,
    reshard_max_up_factor=quotas.RESHARD_MAX_UP_FACTOR,
    reshard_min_down_factor=quotas.RESHARD_MIN_DOWN_FACTOR,
    reshard_calls_per_24h=quotas.RESHARD_CALLS_PER_24H,
    parallelization_factor_max=quotas.ESM_PARALLELIZATION_FACTOR_MAX,
)
RESHARD_MINUTES = math.ceil(quotas.RESHARD_DURATION_S / MINUTE_S)
SCHEDULE_BLOCK_MINUTES = 60
ESTABLISHED_PEAK_MINUTES = 60  # a rate held this long is a peak the on-demand stream has seen before
SERIES_STEP_MINUTES = 5  # the plot's resolution in the plan JSON (max over each 5 minutes)

Controller = Callable[[int, Observation], Decision | None]


@dataclass(frozen=True)
class DayContext:
    """Everything the policies share: the day, the lane model, the plan's configuration and prices."""

    day: TrafficDay
    lanes: LaneModel
    recommendation: dict[str, Any]
    workload: Workload
    slo: Slo
    prices: Prices
    memory_mb: int
    gb_second_usd: float

    @property
    def offered(self) -> np.ndarray:
        return self.day.per_minute()


def lane_setup(
    recommendation: dict[str, Any],
    service: ServiceTimeModel,
    workload: Workload,
    slo: Slo,
    space: SearchSpace,
) -> LaneSetup:
    """The recommendation's lane, with the service time scaled to its memory and architecture as the
    planner's grid does (capacity/search.py)."""
    speed = memory_time_factor(service.memory_mb, recommendation["memory_mb"], space.cpu_bound_fraction)
    if recommendation["architecture"] == "arm64":
        speed *= space.arm64_duration_factor
    read = space.read_path(recommendation["consumer_mode"], 1 + workload.other_consumers)
    return LaneSetup(
        batch_size=recommendation["batch_size"],
        batching_window_s=recommendation["batching_window_s"],
        service_ms=(service.a_ms * speed, service.b_ms_per_record * speed, service.c_ms_per_kib * speed),
        record_bytes=workload.record_bytes,
        read=read,
        keys=workload.keys,
        slo=slo,
    )


def run_provisioned(
    context: DayContext, shards: int, pf: int, controller: Controller | None, days: int = 1
) -> Series:
    """Run the day (`days` times; the last is kept) with UpdateShardCount's rules enforced: one call at a
    time, each within 2x / 0.5x, ten per rolling 24 h, RESHARD_MINUTES until the new count serves."""
    offered = context.offered
    minutes = offered.size
    flow = Flow()
    target, done_at, last_pf = shards, -1, -math.inf
    calls: list[int] = []
    series = Series()
    for day in range(days):
        series = Series()
        for m in range(minutes):
            now = day * minutes + m
            if now == done_at:
                shards = target
            updating = now < done_at
            write_rps = context.lanes.provisioned_write_rps(shards)
            minute = context.lanes.minute(flow, float(offered[m]), write_rps, shards, pf)
            series.minutes.append(minute)
            series.shards.append(float(max(shards, target)))
            series.pf.append(pf)
            series.write_capacity_rps.append(write_rps)
            if controller is None:
                continue
            observation = Observation(
                now_s=(now + 1) * MINUTE_S,
                incoming_records_per_s=minute.accepted / MINUTE_S,
                incoming_bytes_per_s=minute.accepted * context.workload.record_bytes / MINUTE_S,
                iterator_age_ms=minute.iterator_age_ms,
                open_shards=shards,
                parallelization_factor=pf,
                stream_updating=updating,
                shard_calls_s=tuple(at * MINUTE_S for at in calls),
                last_pf_change_s=last_pf * MINUTE_S,
            )
            decision = controller(m, observation)
            if decision is None:
                continue
            if decision.parallelization_factor is not None and decision.parallelization_factor != pf:
                series.pf_changes.append({"minute": m, "from": pf, "to": decision.parallelization_factor})
                pf, last_pf = decision.parallelization_factor, now + 1
            if decision.shards is not None and decision.shards != shards:
                if _allowed(shards, decision.shards, updating, calls, now):
                    calls.append(now + 1)
                    target, done_at = decision.shards, now + 1 + RESHARD_MINUTES
                    series.shard_calls.append(
                        {"minute": m + 1, "from_shards": shards, "to_shards": target, "why": decision.reason}
                    )
                else:
                    series.refused_calls += 1
    return series


def _allowed(shards: int, wanted: int, updating: bool, calls: list[int], now: int) -> bool:
    recent = sum(1 for at in calls if now + 1 - at < 24 * 60)
    return (
        not updating
        and recent < quotas.RESHARD_CALLS_PER_24H
        and wanted <= math.floor(shards * quotas.RESHARD_MAX_UP_FACTOR)
        and wanted >= math.ceil(shards * quotas.RESHARD_MIN_DOWN_FACTOR)
    )


def needed_shards(context: DayContext, rates_rps: np.ndarray) -> np.ndarray:
    """Shards each minute needs: the plan's shards scaled with the rate (same lanes per record), and at
    least the write limits at rate x headroom (skew-aware)."""
    rec = context.recommendation
    peak = max(float(rates_rps.max()), 1e-9)
    keys, headroom = context.workload.keys, context.slo.headroom_factor
    need = np.maximum(np.ceil(rec["shards"] * rates_rps / peak), 1).astype(int)
    cache: dict[float, int] = {}
    for i, rate in enumerate(rates_rps):
        key = float(f"{rate:.2g}")
        if key not in cache:
            by_records, _ = min_shards(keys, key * headroom, quotas.SHARD_WRITE_RECORDS_PER_S)
            by_bytes, _ = min_shards(
                keys, key * headroom * context.workload.record_bytes, quotas.SHARD_WRITE_BYTES_PER_S
            )
            cache[key] = max(by_records, by_bytes)
        need[i] = max(need[i], cache[key])
    return need


def fit_schedule(need: np.ndarray) -> list[tuple[int, int]]:
    """Piecewise-constant shard levels over the (repeating) day, at most RESHARD_CALLS_PER_24H calls per day
    counting each 2x / 0.5x step, each level covering its block's need from RESHARD_MINUTES before it
    starts. Levels are merged, cheapest extra shard-minutes first, until the calls fit. [(start, shards)]"""
    minutes = need.size
    starts = list(range(0, minutes, SCHEDULE_BLOCK_MINUTES))
    segments = []
    for start in starts:
        end = min(start + SCHEDULE_BLOCK_MINUTES, minutes)
        window = need[max(0, start - RESHARD_MINUTES) : min(minutes, end + RESHARD_MINUTES)]
        segments.append([start, end, int(window.max())])
    while True:
        merged = [segments[0]]
        for seg in segments[1:]:
            if seg[2] == merged[-1][2]:
                merged[-1][1] = seg[1]
            else:
                merged.append(seg)
        segments = merged
        if _schedule_calls(segments) <= quotas.RESHARD_CALLS_PER_24H or len(segments) == 1:
            break
        costs_ = [
            (max(a[2], b[2]) - a[2]) * (a[1] - a[0]) + (max(a[2], b[2]) - b[2]) * (b[1] - b[0])
            for a, b in itertools.pairwise(segments)
        ]
        i = int(np.argmin(costs_))
        level = max(segments[i][2], segments[i + 1][2])
        segments[i : i + 2] = [[segments[i][0], segments[i + 1][1], level]]
    return [(seg[0], seg[2]) for seg in segments]


def _schedule_calls(segments: list[list[int]]) -> int:
    levels = [seg[2] for seg in segments]
    pairs = zip(levels, levels[1:] + levels[:1], strict=True)
    return sum(len(resharding_path(a, b)) for a, b in pairs if a != b)


def schedule_controller(schedule: list[tuple[int, int]], minutes: int) -> Controller:
    """Calls at fixed minutes: a step up issued RESHARD_MINUTES (per 2x step) before its level starts, a
    step down when it starts (the old count serves until the reshard is done)."""
    calls: dict[int, int] = {}
    levels = [shards for _, shards in schedule]
    for (start, shards), before in zip(schedule, levels[-1:] + levels[:-1], strict=True):
        path = resharding_path(before, shards) if before != shards else []
        up = shards > before
        for k, step in enumerate(path):
            # One call at a time: the next is issued the minute after the previous one is done.
            spacing = RESHARD_MINUTES + 1
            at = start - (len(path) - k) * spacing if up else start + k * spacing
            calls[at % minutes] = step["to_shards"]

    def control(minute: int, observation: Observation) -> Decision | None:
        wanted = calls.get(minute + 1)
        return None if wanted is None else Decision(wanted, None, f"schedule: {wanted} shards")

    return control


def established_peak_rps(rates_rps: np.ndarray) -> float:
    """The highest rate held for ESTABLISHED_PEAK_MINUTES (the previous 30 days are assumed to have peaked
    there: a stream that carries this day every day has seen its sustained peak, not its spikes)."""
    window = min(ESTABLISHED_PEAK_MINUTES, rates_rps.size)
    kernel = np.ones(window) / window
    return float(np.convolve(rates_rps, kernel, mode="valid").max())


def run_on_demand(context: DayContext, pf: int, warm_rps: float = 0.0) -> Series:
    """On-demand: write capacity double the highest accepted rate seen (the established peak before the
    day, the day's own minutes after ON_DEMAND_SCALE_UP_S), at least the new-stream capacity, and at least
    the warm throughput; the consumer gets one lane per 1,000 records/s of capacity (the shards AWS opens)
    times PF."""
    offered = context.offered
    record_bytes = context.workload.record_bytes
    floor = min(
        quotas.ON_DEMAND_INITIAL_WRITE_RECORDS_PER_S,
        quotas.ON_DEMAND_INITIAL_WRITE_BYTES_PER_S / record_bytes,
    )
    lag = math.ceil(quotas.ON_DEMAND_SCALE_UP_S / MINUTE_S)
    seen = np.zeros(offered.size)
    peak = established_peak_rps(offered / MINUTE_S)
    flow, series = Flow(), Series()
    for m in range(offered.size):
        if m >= lag:
            peak = max(peak, seen[m - lag])
        write_rps = max(floor, quotas.ON_DEMAND_PEAK_MULTIPLE * peak, warm_rps)
        shards = max(1, math.ceil(write_rps / quotas.SHARD_WRITE_RECORDS_PER_S))
        minute = context.lanes.minute(flow, float(offered[m]), write_rps, shards, pf)
        seen[m] = minute.accepted / MINUTE_S
        series.minutes.append(minute)
        series.shards.append(float(shards))
        series.pf.append(pf)
        series.write_capacity_rps.append(write_rps)
    return series


def policy_cost(
    context: DayContext, series: Series, stream_mode: str, advantage: bool = False
) -> dict[str, float]:
    """Monthly cost of a policy's day repeated all month: stream (its mean billed shards, or on-demand's
    data), the consumer's invocations and GB-seconds, and the sinks at the day's mean rate."""
    workload, prices, rec = context.workload, context.prices, context.recommendation
    seconds = len(series.minutes) * MINUTE_S
    mean_rate = float(series.array("accepted").sum()) / seconds
    mean_shards = float(np.mean(series.shards))
    inputs = costs.CostInputs(
        mean_rate, workload.record_bytes, 1 + workload.other_consumers, workload.use, workload.retention
    )
    if advantage:
        factor = quotas.ON_DEMAND_ADVANTAGE_DATA_PRICE_FACTOR
        prices = replace(
            prices,
            kds_on_demand_stream_hour_usd=0.0,
            kds_on_demand_gb_in_usd=prices.kds_on_demand_gb_in_usd * factor,
            kds_on_demand_gb_out_usd=prices.kds_on_demand_gb_out_usd * factor,
        )
    invocations = float(series.array("invocations").sum())
    billed_ms = float(series.array("gb_seconds_ms").sum()) / max(invocations, 1e-9)
    per_s = invocations / seconds
    breakdown = {
        **costs.stream_cost_usd(mean_shards, stream_mode, inputs, prices),
        **costs.efo_cost_usd(mean_shards, rec["consumer_mode"] == "efo", inputs, prices),
        **costs.consumer_cost_usd(per_s, billed_ms, context.memory_mb, context.gb_second_usd, prices),
        **costs.sink_cost_usd(per_s, mean_shards, rec["output_shards"], inputs, prices),
    }
    return {name: round(float(value), 2) for name, value in breakdown.items()}


def window_for_day(setup: LaneSetup, windows_s: tuple[int, ...], lane_rates_rps: np.ndarray) -> float:
    """The longest batching window, at most the plan's, whose caught-up lane meets the SLO at every lane rate
    of the day: a window sized at the peak can miss the e2e p99 at night, when batches close on the window
    rather than the batch size (the plan checks its peak rate only)."""
    candidates = sorted({w for w in windows_s if w <= setup.batching_window_s} | {0}, reverse=True)
    rates = np.asarray(lane_rates_rps, dtype=float)
    for window in candidates:
        state = steady_state(
            rates, setup.record_bytes, setup.batch_size, window, setup.service_ms, setup.read
        )
        stable = (
            rates < 0.95 * state.capacity_rps
        )  # a saturated minute is the shards' problem, not the window's
        e2e_ok = np.all((state.e2e_p99_s * 1000.0 <= setup.slo.e2e_p99_ms) | ~stable)
        age_ok = np.all((state.iterator_age_max_s * 1000.0 <= setup.slo.iterator_age_max_ms) | ~stable)
        if e2e_ok and age_ok:
            return float(window)
    return float(candidates[-1])


def build_context(recommendation: dict[str, Any], inputs: PlanInputs, day: TrafficDay) -> DayContext:
    workload, slo, prices = inputs.workload, inputs.slo, inputs.prices
    setup = lane_setup(recommendation, inputs.service, workload, slo, inputs.space)
    rates = day.rates_per_minute_rps()
    lanes = recommendation["shards"] * recommendation["parallelization_factor"]
    quiet = max(float(rates[rates > 0].min(initial=rates.max())), 1e-3) / lanes
    hottest = float(rates.max()) * workload.keys.max_lane_share(
        recommendation["shards"], recommendation["parallelization_factor"]
    )
    window = window_for_day(
        setup, inputs.space.batching_windows_s, np.geomspace(quiet, max(hottest, quiet), 24)
    )
    setup = replace(setup, batching_window_s=window)
    rec = {
        **recommendation,
        "batching_window_s": int(window),
        "output_shards": recommendation.get("output_shards") or output_shards(workload, slo),
    }
    return DayContext(
        day=day,
        lanes=LaneModel(setup),
        recommendation=rec,
        workload=workload,
        slo=slo,
        prices=prices,
        memory_mb=recommendation["memory_mb"],
        gb_second_usd=prices.lambda_gb_second_usd(recommendation["architecture"]),
    )
