import pytest

from capacity.fit import ServiceTimeModel
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
