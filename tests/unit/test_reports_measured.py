"""reports/measured.py and reports/assemble.py: the measured numbers of a summary, from data tables."""

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from reports import measured
from reports.assemble import write_run_summary
from reports.errors import ReportInputError
from reports.sample import write_sample_run
from reports.summary import Step, load_summary


def _load(rows: list[tuple[int, float, int, int, int]]) -> pd.DataFrame:
    columns = ("epoch_s", "target_rps", "offered", "accepted", "throttled")
    frame = pd.DataFrame(rows, columns=columns)
    return frame.assign(step=(frame["target_rps"].rank(method="dense") - 1).astype(int))


def _invocations(rows: list[tuple[int, int, float]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=("start_epoch_ms", "batch_records", "iterator_age_ms"))
    return frame.assign(duration_ms=50.0, e2e_p50_ms=100.0, e2e_p99_ms=200.0, e2e_max_ms=300.0)


def test_sustained_is_the_best_healthy_step_and_saturation_the_ceiling() -> None:
    # Given three one-second steps: healthy at 100, throttled at 200, and at 300 also throttled
    load = _load([(0, 100, 100, 100, 0), (1, 200, 200, 150, 50), (2, 300, 300, 160, 140)])
    invocations = _invocations([(0, 10, 50.0), (1_000, 10, 60.0), (2_000, 10, 70.0)])
    step_rows = measured.steps(load, invocations)
    # When throughput is computed
    result = measured.throughput(load, step_rows, iterator_age_slo_ms=10_000)
    # Then sustained is the healthy 100, saturation the 160 ceiling, totals are per second of load
    assert result["sustained_accepted_rps"] == 100
    assert result["saturation_rps"] == 160
    assert result["offered_rps"] == 200
    # throttled counts attempts: 190 refused of 410 + 190 attempts
    assert measured.throttle_ratio(load) == pytest.approx(190 / (410 + 190))


def test_a_step_over_the_iterator_age_slo_is_not_sustained() -> None:
    load = _load([(0, 100, 100, 100, 0), (1, 200, 200, 200, 0)])
    invocations = _invocations([(0, 10, 50.0), (1_000, 10, 20_000.0)])
    step_rows = measured.steps(load, invocations)
    assert measured.throughput(load, step_rows, iterator_age_slo_ms=10_000)["sustained_accepted_rps"] == 100


def test_model_error_is_the_absolute_percentage_error_per_step() -> None:
    step: Step = {
        "step": 0,
        "rate_rps": 100,
        "start_epoch_s": 0,
        "end_epoch_s": 1,
        "offered_rps": 100,
        "accepted_rps": 100,
        "throttled_rps": 0,
        "iterator_age_p99_ms": 200,
        "e2e_p50_ms": 100,
        "e2e_p99_ms": 400,
    }
    error = measured.model_error(
        [{"step": 0, "predicted_iterator_age_p99_ms": 220, "predicted_e2e_p99_ms": 300}], [step]
    )
    assert error["per_step"][0]["ape_iterator_age"] == pytest.approx(0.1)
    assert error["per_step"][0]["ape_e2e"] == pytest.approx(0.25)
    assert error["max_ape"] == pytest.approx(0.25)


def test_cost_per_million_cdrs_prices_a_730_hour_month() -> None:
    # 1 record/s for 730 h is 2.628 million records
    assert measured.cost_per_million_cdrs(2.628, 1.0) == pytest.approx(1.0)


def test_a_run_stopped_before_any_data_still_gets_a_valid_summary(tmp_path: Path) -> None:
    # Given the parts a run knows, and a data/ folder with no tables (Ctrl-C before the first second)
    sample = json.loads((write_sample_run(tmp_path / "s") / "summary.json").read_text())
    run_dir = tmp_path / "stopped"
    (run_dir / "data").mkdir(parents=True)
    # When the summary is assembled Then it is valid, with zero measurements
    path = write_run_summary(run_dir, **_parts(sample))
    summary = load_summary(path)
    assert summary["steps"] == []
    assert summary["throughput"]["accepted_rps"] == 0


def test_an_assembled_summary_that_breaks_the_contract_is_refused(tmp_path: Path) -> None:
    sample = json.loads((write_sample_run(tmp_path / "s") / "summary.json").read_text())
    parts = _parts(sample)
    parts["recommendation"] = {**parts["recommendation"], "batch_size": 0}
    with pytest.raises(ReportInputError, match=r"recommendation\.batch_size: 0 is outside"):
        write_run_summary(tmp_path / "s", **parts)


def _parts(sample: dict[str, Any]) -> dict[str, Any]:
    return {
        "started_at": sample["started_at"],
        "finished_at": sample["finished_at"],
        "metadata": {k: sample[k] for k in ("target", "versions", "git_commit", "config")},
        "profile": sample["profile"],
        "service_time_model": sample["service_time_model"],
        "recommendation": sample["recommendation"],
        "predictions": [],
        "design_rate_rps": 300.0,
    }
