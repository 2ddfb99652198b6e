import pytest

from capacity.fit import ServiceTimeModel
from capacity.interval_calibration import model_margin
from capacity.model import ReadPath
from capacity.validate import ape, predict_steps


def test_ape_is_relative_to_the_measurement() -> None:
    assert ape(110.0, 100.0) == pytest.approx(0.10)
    assert ape(90.0, 100.0) == pytest.approx(0.10)
    assert ape(None, 100.0) is None
    assert ape(5.0, 0.0) == pytest.approx(5.0)  # against the 1 ms floor, not infinite
    assert ape(float("nan"), 100.0) is None


def test_predict_steps_gives_one_prediction_per_step_and_grows_with_load() -> None:
    service = ServiceTimeModel(20.0, 0.5, memory_mb=1_769)
    config = {
        "shards": 2,
        "parallelization_factor": 1,
        "batch_size": 100,
        "batching_window_s": 0,
        "memory_mb": 1_769,
    }
    steps = [
        {"step": 1, "rate_rps": 100.0, "duration_s": 60.0},
        {"step": 2, "rate_rps": 600.0, "duration_s": 60.0},
    ]
    predictions = predict_steps(service, config, steps, record_bytes=400, read=ReadPath.shared(1))
    assert [p["step"] for p in predictions] == [1, 2]
    assert predictions[1]["predicted_e2e_p99_ms"] > predictions[0]["predicted_e2e_p99_ms"]


def test_predict_steps_brackets_each_p99_with_the_replications_interval() -> None:
    # Given a noisy handler (CV 0.3) on the local read path, whose poll phase and durations vary by seed
    service = ServiceTimeModel(10.0, 2.0, memory_mb=1_769)
    config = {"shards": 1, "parallelization_factor": 1, "batch_size": 100, "batching_window_s": 0}
    steps = [{"step": 0, "rate_rps": 150.0, "duration_s": 30.0}]

    # When the step is predicted with 11 replications
    (prediction,) = predict_steps(
        service,
        config,
        steps,
        record_bytes=400,
        read=ReadPath.local_runtime(delivery_s=0.02),
        service_cv=0.3,
        repeats=11,
    )

    # Then the central value lies inside a non-empty 80% interval, for both p99s
    assert prediction["replications"] == 11
    for metric in ("iterator_age", "e2e"):
        low = prediction[f"predicted_{metric}_p99_lo_ms"]
        high = prediction[f"predicted_{metric}_p99_hi_ms"]
        assert low <= prediction[f"predicted_{metric}_p99_ms"] <= high
    assert prediction["predicted_e2e_p99_hi_ms"] > prediction["predicted_e2e_p99_lo_ms"]


def test_one_replication_gives_the_calibrated_margin_around_a_point() -> None:
    # Given one replication: its spread is a point
    service = ServiceTimeModel(10.0, 2.0, memory_mb=1_769)
    config = {"shards": 1, "parallelization_factor": 1, "batch_size": 100, "batching_window_s": 1}
    steps = [{"step": 0, "rate_rps": 50.0, "duration_s": 20.0}]
    (prediction,) = predict_steps(
        service, config, steps, record_bytes=400, read=ReadPath.shared(1), repeats=1
    )
    # Then the interval is that point widened by the recorded validation runs' margin, and says so
    factor = model_margin().factor
    assert prediction["interval_log_margin"] == model_margin().log_margin > 0
    central = prediction["predicted_e2e_p99_ms"]
    assert prediction["predicted_e2e_p99_lo_ms"] == pytest.approx(central / factor)
    assert prediction["predicted_e2e_p99_hi_ms"] == pytest.approx(central * factor)
