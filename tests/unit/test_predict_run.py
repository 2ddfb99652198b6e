"""Predicting a saved run's steps again from its data tables (bench_model_validation --repredict)."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cdrcap.errors import CdrcapError
from cdrcap.predict_run import repredict
from reports.sample import write_sample_run

STACK = {
    "shards": 2,
    "parallelization_factor": 1,
    "batch_size": 500,
    "batching_window_s": 1,
    "memory_mb": 512,
}


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Given a saved local run: the sample's data tables, the configuration that ran, recorded arrivals
    run_dir = write_sample_run(tmp_path_factory.mktemp("runs") / "20261126T000000Z-demo")
    summary = json.loads((run_dir / "summary.json").read_text())
    summary["profile"]["stack"] = {**summary["profile"]["stack"], **STACK}
    (run_dir / "summary.json").write_text(json.dumps(summary))
    first_s = float(summary["steps"][0]["start_epoch_s"])
    arrivals = np.sort(first_s + np.random.default_rng(1).uniform(0.0, 180.0, 9_000).round(3))
    pd.DataFrame({"arrival_epoch_s": arrivals, "in_lane": True}).to_csv(
        run_dir / "data" / "recorded_arrivals.csv", index=False
    )
    return run_dir


def test_a_saved_run_is_predicted_again_with_intervals(saved_run: Path) -> None:
    # When its steps are predicted again
    summary, predictions = repredict(saved_run)
    # Then every step has a central value inside its 80% interval, for both p99s
    assert [p["step"] for p in predictions] == [s["step"] for s in summary["steps"]]
    for prediction in predictions:
        for metric in ("iterator_age", "e2e"):
            low, high = (
                prediction[f"predicted_{metric}_p99_lo_ms"],
                prediction[f"predicted_{metric}_p99_hi_ms"],
            )
            assert 0 <= low <= prediction[f"predicted_{metric}_p99_ms"] <= high


def test_re_predicting_is_deterministic(saved_run: Path) -> None:
    assert repredict(saved_run)[1] == repredict(saved_run)[1]


def test_a_directory_without_data_tables_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CdrcapError, match="not a saved run with data tables"):
        repredict(tmp_path)
