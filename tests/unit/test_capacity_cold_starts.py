"""Cold starts: counted per lane (first, after a reshard or PF change, idle expiry, recycling), their effect
on the e2e p99, provisioned concurrency priced against on-demand, and the plan's verdict."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from capacity import cold_starts, quotas
from capacity.cold_starts import ColdStartTimes, count_day, count_steady
from capacity.explain import provisioned_concurrency_parameter
from capacity.fit import ServiceTimeModel
from capacity.model import ReadPath
from capacity.planner import plan
from capacity.quotas import US_EAST_1
from capacity.search import SearchSpace, Slo, Workload
from capacity.simulate import LaneSimConfig

MINUTES = cold_starts.MINUTES_PER_DAY
IDLE_MINUTES = quotas.LAMBDA_ENV_IDLE_LIFETIME_S / 60.0
RECYCLED_PER_LANE = 86_400.0 / quotas.LAMBDA_ENV_MAX_LIFETIME_S
SERVICE = ServiceTimeModel(a_ms=40.0, b_ms_per_record=0.3, memory_mb=1_769)
FAST_SPACE = SearchSpace(simulate_s=40.0)


def _busy_day(lanes: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """(lanes, lane rate) per minute from (from_minute, lanes) steps, every lane busy (100 records/s)."""
    per_minute = np.zeros(MINUTES)
    for start, count in lanes:
        per_minute[start:] = count
    return per_minute, np.full(MINUTES, 100.0)


def test_a_busy_steady_lane_only_pays_the_recycling() -> None:
    # Given 4 lanes each receiving 100 records/s all day
    counts = count_steady(4, 100.0)
    # Then no lane starts cold for lack of records or lanes: only Lambda's recycling of environments
    assert counts["new_lanes"] == 0
    assert counts["idle_expiry"] == pytest.approx(0.0, abs=1e-9)
    assert counts["recycled"] == pytest.approx(4 * RECYCLED_PER_LANE)
    assert counts["total"] == pytest.approx(counts["recycled"])


def test_a_reshard_up_starts_only_the_new_lanes_cold() -> None:
    # Given 2 shards x PF 2 until 08:00, then 4 shards x PF 2 (a reshard up), back to 4 lanes at 20:00
    lanes, rate = _busy_day([(0, 4), (8 * 60, 8), (20 * 60, 4)])
    counts = count_day(lanes, rate)
    # Then the 4 lanes above the warm ones start cold once; the way down starts none
    assert counts["new_lanes"] == 4


def test_a_pf_change_counts_like_a_reshard() -> None:
    # Given 3 shards whose PF goes 1 -> 4 at noon (3 -> 12 lanes) and back to 1 at 13:00
    lanes, rate = _busy_day([(0, 3), (12 * 60, 12), (13 * 60, 3)])
    # Then 9 new lanes start cold at noon
    assert count_day(lanes, rate)["new_lanes"] == 9


def test_lanes_back_within_the_idle_lifetime_are_still_warm() -> None:
    # Given lanes that drop from 8 to 4 and return to 8 before the idle lifetime ends
    back = int(IDLE_MINUTES) - 2
    lanes, rate = _busy_day([(0, 8), (600, 4), (600 + back, 8)])
    # Then no lane starts cold: the environments of the 4 dropped lanes had not expired
    assert count_day(lanes, rate)["new_lanes"] == 0
    # While a return after the idle lifetime finds them gone
    lanes, rate = _busy_day([(0, 8), (600, 4), (600 + int(IDLE_MINUTES) + 5, 8)])
    assert count_day(lanes, rate)["new_lanes"] == 4


def test_a_sparse_lane_expires_between_records() -> None:
    # Given one lane receiving one record every ~20 minutes on average (Poisson)
    rate = 1.0 / 1_200.0
    counts = count_steady(1, rate)
    # Then most records find the environment expired: records/day x P(gap > idle lifetime), per minute
    records_per_day = rate * 86_400.0
    exact = records_per_day * math.exp(-rate * quotas.LAMBDA_ENV_IDLE_LIFETIME_S)
    assert counts["idle_expiry"] == pytest.approx(exact, rel=0.1)
    # And a busier lane (a record a second) practically never does
    assert count_steady(1, 1.0)["idle_expiry"] < 1e-6


def _busy_lane() -> LaneSimConfig:
    return LaneSimConfig(
        batch_size=500,
        batching_window_s=0.0,
        service_ms=(40.0, 0.3, 0.0),
        record_bytes=400.0,
        read=ReadPath.shared(1),
    )


def test_a_cold_start_delays_its_batch_and_the_backlog_behind_it() -> None:
    # Given a lane at 1,000 records/s and a 2 s cold start
    effect = cold_starts.impact(_busy_lane(), 1_000.0, 2_000.0)
    # Then the delayed records include more than its own batch (the backlog of 2 s of records drains after)
    assert effect.increase_ms.size > 500
    # And the first of them waits about the cold start longer, the last of them hardly longer
    assert effect.increase_ms[0] == pytest.approx(2_000.0, rel=0.1)
    assert effect.increase_ms[-1] < 500.0
    assert (effect.increase_ms >= 0).all()


def test_p99_moves_only_when_delayed_records_pass_one_percent() -> None:
    effect = cold_starts.impact(_busy_lane(), 1_000.0, 2_000.0)
    warm = effect.p99_ms(0.0)
    # A few cold starts a day: well under 1 % of the records, the p99 barely moves
    assert effect.p99_ms(1e-5) == pytest.approx(warm, rel=0.05)
    # Past 1 % of the records delayed, the p99 is a delayed record
    assert effect.p99_ms(0.05) > warm + 1_000.0


def test_run_init_duration_is_the_median_of_its_report_lines() -> None:
    trace = pd.DataFrame({"init_duration_ms": [np.nan, 300.0, 500.0, np.nan, 400.0]})
    times = cold_starts.from_invocations(trace, first_call_ms=250.0, run="run r1")
    assert times.init_ms == 400.0
    assert times.penalty_ms == 650.0
    assert "run r1" in times.source and "3 REPORT lines" in times.source


def test_run_without_init_duration_falls_back_to_the_benchmark_and_says_so() -> None:
    times = cold_starts.from_invocations(pd.DataFrame({"duration_ms": [10.0]}), 250.0, "run r2")
    assert times.init_ms == cold_starts.BENCH_INIT_MS
    assert times.first_call_ms == 250.0
    assert "bench_cold_start" in times.source


def test_provisioned_concurrency_prices_are_below_on_demand_duration() -> None:
    # The PC duration price plus the PC itself equals more than on-demand only below a busy share < 1
    for architecture in ("arm64", "x86_64"):
        pc, on_pc = US_EAST_1.lambda_provisioned_gb_second_usd(architecture)
        on_demand = US_EAST_1.lambda_gb_second_usd(architecture)
        assert 0 < on_pc < on_demand
        assert 0 < pc / (on_demand - on_pc) < 1


def _recommendation(busy_gb_seconds_share: float, lanes: int = 10) -> dict[str, object]:
    memory_mb, architecture = 1_024, "x86_64"
    gb_seconds = busy_gb_seconds_share * lanes * (memory_mb / 1024) * quotas.SECONDS_PER_MONTH
    return {
        "shards": lanes,
        "parallelization_factor": 1,
        "memory_mb": memory_mb,
        "architecture": architecture,
        "cost_breakdown_usd": {
            "lambda_duration": gb_seconds * US_EAST_1.lambda_gb_second_x86_64_usd,
            "lambda_requests": 5.0,
        },
    }


def test_provisioned_concurrency_is_priced_per_gb_second_of_every_lane() -> None:
    # Given 10 lanes of 1 GB busy 20 % of the month, 6 cold starts a day per lane
    rec = _recommendation(0.2)
    per_day = {"total": 60.0}
    times = ColdStartTimes(100.0, 300.0, "test")
    result = cold_starts.compare_provisioned(rec, per_day, times, US_EAST_1, Slo(), 1_000.0, 1_010.0)
    # Then PC costs 10 GB x the month x its price, and the duration moves to the PC duration price
    month_gb_s = 10 * quotas.SECONDS_PER_MONTH
    assert result["breakdown_with_usd"]["provisioned_concurrency"] == pytest.approx(
        month_gb_s * US_EAST_1.lambda_provisioned_gb_second_x86_64_usd, abs=0.01
    )
    assert result["breakdown_with_usd"]["lambda_duration_on_pc"] == pytest.approx(
        0.2 * month_gb_s * US_EAST_1.lambda_provisioned_duration_gb_second_x86_64_usd, abs=0.01
    )
    # And without PC the INIT of every cold start is billed as duration
    init_usd = 60.0 * cold_starts.DAYS_PER_MONTH * 0.1 * 1.0 * US_EAST_1.lambda_gb_second_x86_64_usd
    assert result["breakdown_without_usd"]["cold_start_init"] == pytest.approx(init_usd, abs=0.01)
    assert result["lanes_busy_share"] == pytest.approx(0.2, rel=1e-3)


def test_verdict_pc_pays_on_price_only_for_busy_lanes() -> None:
    times = ColdStartTimes(100.0, 300.0, "test")
    idle = cold_starts.compare_provisioned(
        _recommendation(0.2), {"total": 60.0}, times, US_EAST_1, Slo(), 1_000.0, 1_010.0
    )
    busy = cold_starts.compare_provisioned(
        _recommendation(0.9), {"total": 60.0}, times, US_EAST_1, Slo(), 1_000.0, 1_010.0
    )
    assert not idle["pays"] and "does not pay" in idle["verdict"]
    assert busy["pays"] and busy["monthly_usd_with"] < busy["monthly_usd_without"]


def test_verdict_pc_pays_for_the_slo_when_cold_starts_break_it() -> None:
    # Given lanes busy 20 % (PC dearer) whose cold starts push the p99 from 4.0 s to 5.5 s over a 5 s SLO
    result = cold_starts.compare_provisioned(
        _recommendation(0.2), {"total": 60.0}, ColdStartTimes(100.0, 300.0, "t"), US_EAST_1, Slo(), 4_000.0,
        5_500.0,
    )  # fmt: skip
    assert result["pays"]
    assert "SLO" in result["verdict"]


def test_plan_reports_cold_starts_and_the_pc_comparison() -> None:
    # Given a steady 2,000 CDR/s plan
    result = plan(SERVICE, Workload(2_000, 400), Slo(), FAST_SPACE, include_plus_50pct=False)
    details, rec = result.details, result.recommendation
    lanes = rec["shards"] * rec["parallelization_factor"]
    # Then its cold starts are its lanes' recycling, and the p99 with them is not below the warm one
    cold = details["cold_starts"]
    assert cold["lanes"] == lanes
    assert cold["at_each_deploy"] == lanes  # every lane's first invocation after a deploy
    assert cold["per_day"]["total"] == pytest.approx(lanes * RECYCLED_PER_LANE, rel=0.01)
    assert cold["e2e_p99_with_cold_starts_ms"] >= cold["e2e_p99_warm_ms"]
    assert cold["times"]["source"] == cold_starts.BENCH_SOURCE
    # And PC sized to shards x PF does not pay for a steady stream at the plan's headroom
    pc = details["provisioned_concurrency"]
    assert pc["provisioned_concurrency"] == lanes
    assert not pc["pays"]
    assert pc["lanes_busy_share"] < pc["break_even_busy_share"]


def test_plan_uses_the_measured_cold_start() -> None:
    measured = ColdStartTimes(2_000.0, 1_500.0, "run r9")
    result = plan(SERVICE, Workload(2_000, 400), Slo(), FAST_SPACE, include_plus_50pct=False, cold=measured)
    assert result.details["cold_starts"]["times"]["source"] == "run r9"
    assert result.details["cold_starts"]["times"]["penalty_ms"] == 3_500.0


def test_emitted_provisioned_concurrency_is_shards_x_pf_only_when_it_pays() -> None:
    pays = {"provisioned_concurrency": {"provisioned_concurrency": 12, "pays": True}}
    dearer = {"provisioned_concurrency": {"provisioned_concurrency": 12, "pays": False}}
    unstable: dict[str, object] = {"provisioned_concurrency": None}
    value = "ParameterValue"
    expected = [{"ParameterKey": "ProvisionedConcurrency", value: "12"}]
    assert provisioned_concurrency_parameter(pays) == expected
    assert provisioned_concurrency_parameter(dearer)[0][value] == "0"
    assert provisioned_concurrency_parameter(unstable)[0][value] == "0"
