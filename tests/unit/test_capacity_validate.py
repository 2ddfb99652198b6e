import pytest

from capacity.errors import CapacityError
from capacity.fit import ServiceTimeModel
from capacity.model import ReadPath
from capacity.validate import ape, model_error, predict_steps

pytestmark = pytest.mark.unit


def test_ape_is_relative_to_the_measurement() -> None:
    assert ape(110.0, 100.0) == pytest.approx(0.10)
    assert ape(90.0, 100.0) == pytest.approx(0.10)
    assert ape(None, 100.0) is None
    assert ape(5.0, 0.0) == pytest.approx(5.0)  # against the 1 ms floor, not infinite
    assert ape(float("nan"), 100.0) is None


def test_model_error_has_per_step_ape_median_and_max() -> None:
    measured = [
        {"step": 1, "rate_rps": 100, "iterator_age_p99_ms": 100.0, "e2e_p99_ms": 1_000.0},
        {"step": 2, "rate_rps": 200, "iterator_age_p99_ms": 200.0, "e2e_p99_ms": 2_000.0},
    ]
    predicted = [
        {"step": 1, "predicted_iterator_age_p99_ms": 110.0, "predicted_e2e_p99_ms": 1_000.0},
        {"step": 2, "predicted_iterator_age_p99_ms": 140.0, "predicted_e2e_p99_ms": 2_100.0},
    ]
    error = model_error(measured, predicted)
    assert [row["ape_iterator_age"] for row in error["per_step"]] == pytest.approx([0.10, 0.30])
    assert [row["ape_e2e"] for row in error["per_step"]] == pytest.approx([0.0, 0.05])
    assert error["median_ape"] == pytest.approx(0.075)
    assert error["max_ape"] == pytest.approx(0.30)


def test_missing_prediction_for_a_step_is_an_error() -> None:
    with pytest.raises(CapacityError, match="step 3"):
        model_error([{"step": 3, "iterator_age_p99_ms": 1.0, "e2e_p99_ms": 1.0}], [])


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
