import json
import math
from pathlib import Path

import numpy as np
import pytest

from capacity.errors import CapacityError
from capacity.interval_calibration import (
    NO_MARGIN,
    CalibrationPoint,
    add_run,
    conformal_margin,
    load_points,
    margin_without,
    model_margin,
    widen,
)
from capacity.intervals import predicted
from reports.measured import model_error


def point(measured: float, low: float = 100.0, high: float = 200.0, run: str = "r1") -> CalibrationPoint:
    return CalibrationPoint(run, "case", 0, "e2e", (low + high) / 2, low, high, measured)


def test_a_point_scores_how_far_outside_its_interval_it_fell_in_log_terms() -> None:
    assert point(220.0).score == pytest.approx(math.log(220 / 200))
    assert point(80.0).score == pytest.approx(math.log(100 / 80))
    assert point(150.0).score < 0  # inside: negative
    assert point(0.0, low=0.0, high=0.5).score == 0.0  # ~0 ms values meet the 1 ms floor


def test_the_margin_is_the_conformal_rank_of_the_scores() -> None:
    # Given 9 points 1%..9% above their intervals' high end
    points = [point(200.0 * math.exp(k / 100)) for k in range(1, 10)]
    # Then the margin is the ceil(10 x 0.8) = 8th smallest score: 8%
    margin = conformal_margin(points)
    assert margin.log_margin == pytest.approx(0.08)
    assert margin.points == 9 and margin.runs == ("r1",)
    assert "x1.083 each side" in margin.describe()


def test_the_margin_never_narrows_the_replications_and_is_unbounded_without_enough_points() -> None:
    assert conformal_margin([point(150.0)] * 10).log_margin == 0.0
    assert conformal_margin([point(150.0)] * 3).log_margin == math.inf  # rank 4 of 3
    assert conformal_margin([]) == NO_MARGIN


def test_widening_divides_the_low_end_and_multiplies_the_high_end() -> None:
    margin = conformal_margin([point(200.0 * math.exp(0.1))] * 9)
    assert widen(100.0, 200.0, margin) == pytest.approx((100 / math.exp(0.1), 200 * math.exp(0.1)))
    assert widen(100.0, 200.0, NO_MARGIN) == (100.0, 200.0)
    assert widen(0.0, math.inf, margin) == (0.0, math.inf)


def test_intervals_so_widened_cover_80_percent_of_new_exchangeable_measurements() -> None:
    # Given replication intervals that are too narrow for what is measured (lognormal noise they lack)
    rng = np.random.default_rng(3)

    def draws(n: int, run: str) -> list[CalibrationPoint]:
        values = 1_000 * np.exp(rng.normal(0, 0.2, n))
        return [point(float(v), low=950.0, high=1_050.0, run=run) for v in values]

    margin = conformal_margin(draws(200, "calibration"))
    # When new measurements come from the same process
    fresh = draws(4_000, "fresh")
    low, high = widen(950.0, 1_050.0, margin)
    inside = np.mean([low <= p.measured_ms <= high for p in fresh])
    # Then ~80% fall inside the widened intervals (the replications' alone held ~20%)
    assert 0.77 <= inside <= 0.86
    assert np.mean([p.score <= 0 for p in fresh]) < 0.3


def test_runs_are_recorded_replaced_and_left_out_on_request(tmp_path: Path) -> None:
    path = tmp_path / "calibration.json"
    add_run("r1", "first", [point(200.0 * math.exp(k / 100), run="r1") for k in range(1, 10)], path)
    add_run("r2", "second", [point(150.0, run="r2")] * 9, path)
    add_run("r2", "second, again", [point(300.0, run="r2")] * 9, path)  # replaces r2's points
    points = load_points(path)
    assert len(points) == 18
    assert {p.run for p in points} == {"r1", "r2"}
    assert json.loads(path.read_text())["runs"][1]["provenance"] == "second, again"
    # Scoring r1 out of sample: only r2's points make the margin
    assert margin_without("r1", path).log_margin == pytest.approx(math.log(1.5))
    assert margin_without("r1", path).runs == ("r2",)


def test_a_broken_calibration_file_names_itself_and_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "calibration.json"
    path.write_text('{"runs": [{"points": [{"step": 0}]}]}')
    with pytest.raises(CapacityError, match=r"calibration.json is not a calibration file.*--calibrate"):
        load_points(path)


def test_the_shipped_calibration_widens_every_prediction_and_the_run_report_carries_it() -> None:
    # Given the recorded validation runs shipped with the package
    margin = model_margin()
    assert margin.points >= 28 and 0 < margin.log_margin < math.log(1.5)
    # When a p99 is predicted from replications
    interval = predicted([100.0, 110.0, 120.0, 130.0, 140.0])
    # Then its ends are the replications' percentiles widened by the margin, which it remembers
    assert interval.spread == pytest.approx((104.0, 136.0))
    assert interval.low == pytest.approx(104.0 / margin.factor)
    assert interval.log_margin == margin.log_margin
    # And a run's model_error keeps the margin beside each interval
    prediction = {
        "step": 0,
        "predicted_iterator_age_p99_ms": 120.0,
        "predicted_iterator_age_p99_lo_ms": interval.low,
        "predicted_iterator_age_p99_hi_ms": interval.high,
        "predicted_e2e_p99_ms": 120.0,
        "interval_log_margin": interval.log_margin,
    }
    step = {"step": 0, "rate_rps": 10.0, "iterator_age_p99_ms": 137.0, "e2e_p99_ms": 125.0}
    (entry,) = model_error([prediction], [step])["per_step"]  # type: ignore[list-item]
    assert entry["interval_log_margin"] == margin.log_margin
    assert entry["inside_interval_iterator_age"] is (interval.high >= 137.0)
