import numpy as np
import pandas as pd
import pytest

from capacity.errors import CapacityError
from capacity.fit import ServiceTimeModel, fit_service_time, memory_time_factor


def _trace(a_ms: float, b_ms: float, rows: int = 400, outliers: int = 0, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    records = rng.integers(1, 500, rows)
    duration = a_ms + b_ms * records + rng.normal(0, 2.0, rows)
    duration[:outliers] += 3_000.0  # cold starts
    return pd.DataFrame(
        {"duration_ms": duration, "batch_records": records, "batch_bytes": records * 400, "outcome": "ok"}
    )


def test_fit_recovers_intercept_and_slope() -> None:
    model = fit_service_time(_trace(30.0, 0.5))
    assert model.a_ms == pytest.approx(30.0, abs=1.0)
    assert model.b_ms_per_record == pytest.approx(0.5, abs=0.01)
    assert model.r2 > 0.99
    assert model.n_invocations == 400


def test_fit_is_robust_to_cold_start_outliers() -> None:
    model = fit_service_time(_trace(30.0, 0.5, outliers=20))
    assert model.a_ms == pytest.approx(30.0, abs=3.0)
    assert model.b_ms_per_record == pytest.approx(0.5, abs=0.02)


def test_failed_invocations_are_left_out() -> None:
    trace = _trace(30.0, 0.5)
    trace.loc[:49, "outcome"] = "timeout"
    trace.loc[:49, "duration_ms"] = 60_000.0
    assert fit_service_time(trace).a_ms == pytest.approx(30.0, abs=1.0)


def test_too_few_invocations_is_a_clear_error() -> None:
    with pytest.raises(CapacityError, match="at least"):
        fit_service_time(_trace(30.0, 0.5, rows=3))


def test_per_minute_averages_fit_with_invocation_weights() -> None:
    minutes = pd.DataFrame(
        {
            "duration_ms": [40.0, 80.0, 130.0],
            "batch_records": [20.0, 100.0, 200.0],
            "invocations": [50, 60, 70],
        }
    )
    model = fit_service_time(minutes.iloc[[0, 1, 2, 0, 1, 2]], weights_column="invocations")
    assert model.b_ms_per_record == pytest.approx(0.5, abs=0.02)


def test_memory_speeds_up_cpu_bound_time_up_to_one_vcpu_only() -> None:
    assert memory_time_factor(1769, 885) == pytest.approx(1769 / 885)
    assert memory_time_factor(1769, 3538) == 1.0  # single-threaded: a second vCPU does not help


def test_io_bound_fraction_does_not_scale_with_memory() -> None:
    assert memory_time_factor(1769, 885, cpu_bound_fraction=0.0) == 1.0


def test_model_at_half_memory_takes_about_twice_as_long() -> None:
    model = ServiceTimeModel(10.0, 1.0, memory_mb=1769)
    slower = model.at_memory(885)
    assert slower.duration_ms(100) == pytest.approx(2 * model.duration_ms(100), rel=0.01)
    assert slower.memory_mb == 885


def test_model_round_trips_through_the_summary_dict() -> None:
    model = ServiceTimeModel(
        12.5, 0.25, 0.1, r2=0.9, residual_p90_abs_ms=3.0, n_invocations=42, memory_mb=1024
    )
    assert ServiceTimeModel.from_dict(model.to_dict()) == model


def test_summary_dict_without_slope_is_a_clear_error() -> None:
    with pytest.raises(CapacityError, match="b_ms_per_record"):
        ServiceTimeModel.from_dict({"a_ms": 1.0})


def test_collinear_bytes_do_not_push_the_record_cost_to_zero() -> None:
    # Given invocations whose bytes track records closely (one record size, a little noise)
    rng = np.random.default_rng(3)
    records = rng.integers(60, 101, size=80).astype(float)
    kib = records * 0.55 + rng.normal(0, 0.5, size=80)
    durations = 20.0 + 2.5 * records + rng.normal(0, 30, size=80)
    trace = pd.DataFrame({"duration_ms": durations, "batch_records": records, "batch_bytes": kib * 1024})
    # When fitted with the byte term allowed
    model = fit_service_time(trace)
    # Then the per-record cost is found (the byte term is dropped as no better), and R² is not negative
    assert model.b_ms_per_record == pytest.approx(2.5, rel=0.25)
    assert model.r2 > 0


def test_duration_deviations_are_relative_to_each_steps_median_without_first_invocations() -> None:
    # Given a fit of 10 ms + 1 ms/record, and two 10 s steps of one lane: the first 2x slower than the
    # fit, its first invocation a 5x cold start; the second step as fitted with one 4x straggler
    from capacity.fit import duration_deviations

    model = ServiceTimeModel(10.0, 1.0)
    ratios = [5.0, 2.0, 2.0, 2.0, 2.0, 2.0, 1.0, 1.0, 1.0, 1.0, 4.0]  # step 1, then step 2
    trace = pd.DataFrame(
        {
            "shard_id": "shardId-0",
            "lane": 0,
            "start_epoch_ms": [1_000.0 * k for k in range(6)] + [10_000.0 + 1_000.0 * k for k in range(5)],
            "batch_records": 90,
            "duration_ms": [100.0 * r for r in ratios],
            "outcome": "ok",
        }
    )
    # When the deviations are taken per step
    deviations = duration_deviations(trace, model, [(0.0, 10.0), (10.0, 20.0)])
    # Then the step factor is divided out, the cold start left out, the straggler kept
    assert sorted(deviations.round(6)) == [1.0] * 9 + [4.0]


def test_duration_deviations_need_single_invocations_with_start_times() -> None:
    from capacity.fit import duration_deviations

    model = ServiceTimeModel(10.0, 1.0)
    trace = pd.DataFrame({"batch_records": [10] * 6, "duration_ms": [20.0] * 6})
    assert duration_deviations(trace, model, [(0.0, 1.0)]).size == 0
    per_minute = trace.assign(start_epoch_ms=0.0, invocations=50)  # CloudWatch averages, not invocations
    assert duration_deviations(per_minute, model, [(0.0, 1.0)]).size == 0


def test_formula_prints_the_byte_term_only_when_the_fit_kept_it() -> None:
    # An aggregated (KPL) run whose bytes carry the fit must not print as "0.0 ms + 0.000 ms/record".
    assert ServiceTimeModel(a_ms=0.0, b_ms_per_record=0.0, c_ms_per_kib=1.25).formula() == (
        "0.0 ms + 0.000 ms/record + 1.250 ms/KiB"
    )
    assert ServiceTimeModel(a_ms=12.0, b_ms_per_record=0.5).formula() == "12.0 ms + 0.500 ms/record"


def test_dispatch_gaps_count_only_batches_that_were_already_waiting() -> None:
    from capacity.fit import dispatch_gaps_ms

    # Given one lane (batch 100, window 1 s): five full batches whose records arrived long before the
    # previous invocation ended (backlogged), 30 ms apart; then one small batch that had to wait for its
    # window, started 900 ms after the previous end
    starts = [0.0, 1_030.0, 2_060.0, 3_090.0, 4_120.0, 5_150.0, 7_050.0]
    trace = pd.DataFrame(
        {
            "shard_id": "shardId-0",
            "lane": 0,
            "start_epoch_ms": starts,
            "end_epoch_ms": [s + 1_000.0 for s in starts],
            "batch_records": [100, 100, 100, 100, 100, 100, 20],
            "oldest_arrival_epoch_ms": [-5_000.0, -4_000.0, -3_000.0, -2_000.0, -1_000.0, 0.0, 6_000.0],
            "newest_arrival_epoch_ms": [-4_100.0, -3_100.0, -2_100.0, -1_100.0, -100.0, 900.0, 6_800.0],
        }
    )
    # When the gaps are measured, Then only the backlogged ones count (the last batch's oldest record
    # arrived 150 ms before the previous end: its window, not the runtime, held it)
    assert dispatch_gaps_ms(trace, 100, 1.0, 0.25).tolist() == [30.0] * 5
    # And without arrival times there is nothing to measure
    assert dispatch_gaps_ms(trace.drop(columns="newest_arrival_epoch_ms"), 100, 1.0, 0.25).size == 0
