"""The local runtime, the simulator and the measurement agree on what they count (issue 5, Validation)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from capacity import quotas
from capacity.arrivals import Arrivals, paced_arrivals
from capacity.fit import ServiceTimeModel, cold_start_ms, duration_cv, window_factors
from capacity.model import ReadPath
from capacity.recorded import busiest_lane
from capacity.simulate import LaneSimConfig, SimResult, simulate_lane
from infra.local.esm.dispatch import lane_of
from infra.local.esm.poller import poll_gap_s
from infra.local.esm.pool import WorkerPool
from infra.local.esm.telemetry import GET_RECORDS_LATENCY, Telemetry, percentile
from infra.local.shard_limits import ShardBuckets, ShardRates
from reports import measured
from tests.support.fakes import FakeClock


def test_scale_model_scales_throughput_but_not_the_getrecords_call_rate() -> None:
    rates = ShardRates.scaled(0.1)
    assert rates.write_records_per_s == pytest.approx(0.1 * quotas.SHARD_WRITE_RECORDS_PER_S)
    assert rates.read_bytes_per_s == pytest.approx(0.1 * quotas.SHARD_READ_BYTES_PER_S)
    assert rates.read_calls_per_s == quotas.SHARD_GET_RECORDS_CALLS_PER_S


def test_a_scaled_shard_still_answers_five_polls_a_second() -> None:
    clock = FakeClock()
    buckets = ShardBuckets(ShardRates.scaled(0.1), clock)
    admitted = 0
    for tick in range(50):  # a poller paced at 5 calls/s for 10 s
        clock.now_s = tick * 0.2
        admitted += buckets.admit_read()
    assert admitted == 50


def test_poller_waits_the_idle_second_after_an_empty_poll() -> None:
    assert poll_gap_s(0, 0.01) == quotas.ESM_IDLE_POLL_INTERVAL_S


def test_poller_paces_busy_polls_to_the_shard_call_rate_start_to_start() -> None:
    busy_gap_s = 1.0 / quotas.SHARD_GET_RECORDS_CALLS_PER_S
    assert poll_gap_s(10, 0.05) == pytest.approx(busy_gap_s - 0.05)
    assert poll_gap_s(10, 0.5) == 0.0  # a slow call: poll again at once


def test_local_read_path_matches_the_paced_poller() -> None:
    read = ReadPath.local_runtime()
    assert read.poll_busy_s == pytest.approx(1.0 / quotas.SHARD_GET_RECORDS_CALLS_PER_S)
    assert read.poll_idle_s == quotas.ESM_IDLE_POLL_INTERVAL_S
    assert read.prefetch


def _sim() -> SimResult:
    config = LaneSimConfig(
        batch_size=100,
        batching_window_s=0.5,
        service_ms=(20.0, 2.0, 0.0),
        record_bytes=500,
        read=ReadPath.local_runtime(),
    )
    return simulate_lane(config, [(20.0, 80.0), (20.0, 160.0)], seed=3)


def test_simulated_per_batch_e2e_percentiles_use_the_runtime_nearest_rank_rule() -> None:
    sim = _sim()
    ends = np.cumsum(sim.batch_records)
    starts = ends - sim.batch_records
    for index in range(0, len(ends), 7):
        e2e = sorted(sim.e2e_s[starts[index] : ends[index]].tolist())
        assert sim.batch_e2e_p99_s[index] == pytest.approx(percentile(e2e, 0.99))
        assert sim.batch_e2e_p50_s[index] == pytest.approx(percentile(e2e, 0.5))


def test_as_traced_is_what_reports_measured_computes_from_the_same_trace() -> None:
    sim = _sim()
    inside = (sim.batch_close_s >= 20.0) & (sim.batch_close_s < 40.0)
    trace = pd.DataFrame(
        {
            "iterator_age_ms": sim.iterator_age_s[inside] * 1000,
            "batch_records": sim.batch_records[inside],
            "e2e_p50_ms": sim.batch_e2e_p50_s[inside] * 1000,
            "e2e_p99_ms": sim.batch_e2e_p99_s[inside] * 1000,
            "e2e_max_ms": sim.batch_e2e_p99_s[inside] * 1000,
        }
    )
    traced = sim.as_traced(20.0, 40.0)
    expected = measured.e2e_percentiles(trace)
    assert traced["e2e_p99_ms"] == pytest.approx(max(expected["p99"], expected["p50"]))
    assert traced["iterator_age_p99_ms"] == pytest.approx(np.percentile(trace["iterator_age_ms"], 99))


def test_the_traced_e2e_p99_errs_high_against_the_per_record_p99() -> None:
    sim = _sim()
    assert sim.as_traced(20.0, 40.0)["e2e_p99_ms"] >= sim.summary(20.0, 40.0)["e2e_p99_ms"]


def test_paced_arrivals_are_each_users_calls_on_spread_phases() -> None:
    # Given 4 paced users at 48 records/s (12 records/s each, 3 per call every 0.25 s), one shard
    times = paced_arrivals([(10.0, 48.0)], Arrivals(producers=4, jitter_s=0.0), 1.0, np.random.default_rng(1))
    ticks, sizes = np.unique(times, return_counts=True)
    # Then a call of 3 records lands every 0.0625 s: the users are a quarter interval apart
    assert set(sizes.tolist()) == {3}
    assert np.diff(ticks) == pytest.approx(np.full(ticks.size - 1, 0.0625))
    assert times.size == pytest.approx(480, abs=12)


def test_paced_arrivals_on_one_shard_are_its_share_of_each_burst() -> None:
    times = paced_arrivals([(100.0, 200.0)], Arrivals(producers=4), 0.25, np.random.default_rng(2))
    assert times.size == pytest.approx(0.25 * 200 * 100, rel=0.05)


def test_one_burst_every_quarter_second_leaves_polls_empty_and_ages_records() -> None:
    # Given the same records/s from 4 users on one phase (one producer sending 4x) vs on spread phases
    def age_p99(producers: int, rate: float) -> float:
        config = LaneSimConfig(
            500, 0.0, (10.0, 0.5, 0.0), 500, ReadPath.local_runtime(), arrivals=Arrivals(producers)
        )
        return simulate_lane(config, [(60.0, rate)], seed=4).as_traced(5.0, 60.0)["iterator_age_p99_ms"]

    # Then bursts 0.25 s apart leave polls empty, and each empty poll waits the idle second
    assert age_p99(1, 100.0) > 2 * age_p99(4, 100.0)


def test_service_factor_slows_only_the_batches_of_its_step() -> None:
    def busy_s(factors: tuple[float, ...]) -> float:
        config = LaneSimConfig(
            100, 0.0, (10.0, 1.0, 0.0), 500, ReadPath.local_runtime(), service_factors=factors
        )
        return simulate_lane(config, [(30.0, 50.0), (30.0, 50.0)], seed=5).busy_s

    assert busy_s((1.0, 2.0)) == pytest.approx(1.5 * busy_s(()), rel=0.05)


def _trace(durations_ms: list[float], records: int = 100) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "start_epoch_ms": [1_000_000.0 * (i + 1) for i in range(len(durations_ms))],
            "duration_ms": durations_ms,
            "batch_records": [records] * len(durations_ms),
            "batch_bytes": [records * 500] * len(durations_ms),
            "outcome": ["ok"] * len(durations_ms),
        }
    )


def test_window_factor_is_the_median_slowdown_against_the_fit_in_that_window() -> None:
    trace = _trace([100.0, 100.0, 100.0, 200.0, 200.0, 200.0])
    model = ServiceTimeModel(0.0, 1.0)
    factors = window_factors(trace, model, [(0.0, 3_500.0), (3_500.0, 7_000.0), (7_000.0, 8_000.0)])
    assert factors == pytest.approx([1.0, 2.0, 1.0])  # the last window has no invocation


def test_duration_cv_is_zero_for_durations_on_the_line_and_grows_with_spread() -> None:
    model = ServiceTimeModel(0.0, 1.0)
    assert duration_cv(_trace([100.0] * 8), model) == pytest.approx(0.0)
    assert duration_cv(_trace([70.0, 130.0] * 4), model) > 0.2


def test_worker_pool_warm_up_spawns_every_worker_before_the_first_batch() -> None:
    pool = WorkerPool(2, "json.dumps", {})
    try:
        assert pool.warm() == 2
    finally:
        pool.shutdown()


def test_a_step_without_invocations_is_predicted_as_measured_zero_not_nan() -> None:
    sim = _sim()
    assert sim.as_traced(1_000.0, 1_010.0) == {"batches": 0.0, "iterator_age_p99_ms": 0.0, "e2e_p99_ms": 0.0}


def test_cold_start_is_the_first_invocations_excess_over_the_fit_per_lane() -> None:
    trace = _trace([600.0, 100.0, 100.0, 350.0, 100.0, 100.0])
    trace["shard_id"] = ["s0"] * 3 + ["s1"] * 3
    trace["lane"] = 0
    assert cold_start_ms(trace, ServiceTimeModel(0.0, 1.0)) == pytest.approx((500.0 + 250.0) / 2)


def test_getrecords_latency_is_averaged_per_second_like_duration(tmp_path: Path) -> None:
    telemetry = Telemetry(tmp_path / "trace.csv", tmp_path / "metrics.csv")
    telemetry.metric(GET_RECORDS_LATENCY, 10.0, "s0")
    telemetry.metric(GET_RECORDS_LATENCY, 30.0, "s0")
    telemetry.flush(everything=True)
    rows = pd.read_csv(tmp_path / "metrics.csv")
    assert rows.loc[rows["metric"] == GET_RECORDS_LATENCY, "value"].tolist() == [20.0]


def test_busiest_lane_picks_the_lane_with_most_arrivals_in_the_window_by_the_runtimes_lane_rule() -> None:
    # Given two shards; keys "a" and "d" go to different lanes by the runtime's own rule
    assert lane_of("a", 2) != lane_of("d", 2)
    shards = [
        ("s0", [(10.0, "a"), (11.0, "a")]),
        ("s1", [(10.0, "a"), (10.5, "d"), (11.0, "d"), (12.0, "d"), (99.0, "a")]),
    ]
    best = busiest_lane(shards, 2, lane_of, 0.0, 50.0)
    # Then it is s1's lane of "d", with all of s1's arrivals as the shard's
    assert best is not None
    assert (best.shard_id, best.lane) == ("s1", lane_of("d", 2))
    assert best.lane_epoch_s.tolist() == [10.5, 11.0, 12.0]
    assert best.shard_epoch_s.tolist() == [10.0, 10.5, 11.0, 12.0, 99.0]


def test_replayed_arrivals_are_what_the_simulated_lane_serves() -> None:
    config = LaneSimConfig(10, 0.0, (10.0, 1.0, 0.0), 500, ReadPath.local_runtime())
    lane = np.asarray([0.5, 0.6, 3.0])
    sim = simulate_lane(config, [(5.0, 1.0)], replay=(lane, lane))
    assert sim.arrival_s.tolist() == lane.tolist()
    assert int(sim.batch_records.sum()) == 3


def test_a_poll_sees_what_arrived_until_its_call_returns() -> None:
    # Given a record arriving during a 50 ms GetRecords call: the idle poller's last call started a draw
    # of U(0, idle second + call) before the first arrival, the seed's first draw when arrivals are
    # replayed; seed 53 puts it 12 ms before
    read = ReadPath.local_runtime(delivery_s=0.05)
    config = LaneSimConfig(10, 0.0, (0.0, 0.0, 0.0), 500, read)
    before_s = np.random.default_rng(53).uniform(0.0, read.poll_idle_s + read.delivery_s)
    assert before_s < read.delivery_s
    lane = np.asarray([1.0])
    sim = simulate_lane(config, [(3.0, 1.0)], replay=(lane, lane), seed=53)
    # Then that call returns it when it returns, not the poll after the idle second
    assert sim.iterator_age_s[0] == pytest.approx(read.delivery_s - before_s)
