"""The report shows each predicted p99 with its 80% interval and marks steps too short for a p99."""

import copy
import json
from pathlib import Path
from typing import Any, cast

import pandas as pd
import pytest

from reports import content, measured
from reports.markdown import render_markdown
from reports.plots import _alt_model_error
from reports.render import render_run
from reports.sample import write_sample_run
from reports.summary import Step, Summary, load_summary, validate_summary


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = write_sample_run(tmp_path_factory.mktemp("runs") / "20261126T000000Z-demo")
    render_run(run_dir)
    return run_dir


def _step(step: int, invocations: int, age_ms: float, e2e_ms: float) -> Step:
    return {
        "step": step,
        "rate_rps": 100.0,
        "start_epoch_s": 0.0,
        "end_epoch_s": 30.0,
        "offered_rps": 100.0,
        "accepted_rps": 100.0,
        "throttled_rps": 0.0,
        "iterator_age_p99_ms": age_ms,
        "e2e_p50_ms": e2e_ms / 2,
        "e2e_p99_ms": e2e_ms,
        "invocations": invocations,
    }


def _prediction(
    step: int, age: tuple[float, float, float], e2e: tuple[float, float, float]
) -> dict[str, Any]:
    return {
        "step": step,
        "predicted_iterator_age_p99_ms": age[1],
        "predicted_iterator_age_p99_lo_ms": age[0],
        "predicted_iterator_age_p99_hi_ms": age[2],
        "predicted_e2e_p99_ms": e2e[1],
        "predicted_e2e_p99_lo_ms": e2e[0],
        "predicted_e2e_p99_hi_ms": e2e[2],
        "replications": 21,
    }


def test_model_error_says_which_measurements_fell_inside_their_interval() -> None:
    # Given two steps: step 0 inside both intervals, step 1's e2e above its interval, and 30 invocations
    steps = [_step(0, 300, 250.0, 1_000.0), _step(1, 30, 300.0, 2_000.0)]
    predictions = [
        _prediction(0, (200.0, 240.0, 280.0), (900.0, 1_100.0, 1_300.0)),
        _prediction(1, (250.0, 290.0, 330.0), (1_000.0, 1_200.0, 1_500.0)),
    ]

    # When the model error is computed
    error = measured.model_error(predictions, steps)

    # Then each step says whether its measurement is inside, and the block counts 3 of 4 inside
    first, second = error["per_step"]
    assert first["inside_interval_iterator_age"] and first["inside_interval_e2e"]
    assert second["inside_interval_iterator_age"] and not second["inside_interval_e2e"]
    assert error["interval_coverage"] == pytest.approx(0.75)
    assert error["interval_level"] == pytest.approx(0.8)
    # widths 80/240, 400/1100, 80/290, 500/1200: the middle two are 80/240 and 400/1100
    assert error["interval_median_relative_width"] == pytest.approx((80 / 240 + 400 / 1100) / 2)
    assert (first["invocations"], first["p99_measurable"]) == (300, True)
    assert (second["invocations"], second["p99_measurable"]) == (30, False)


def test_predictions_without_intervals_give_the_old_model_error_block() -> None:
    steps = [_step(0, 300, 250.0, 1_000.0)]
    error = measured.model_error(
        [{"step": 0, "predicted_iterator_age_p99_ms": 240.0, "predicted_e2e_p99_ms": 1e3}], steps
    )
    assert "interval_coverage" not in error
    assert "predicted_e2e_p99_lo_ms" not in error["per_step"][0]


def test_steps_count_their_invocations_and_short_steps_get_a_note() -> None:
    # Given 40 invocations in a 30 s step
    load = pd.DataFrame(
        {
            "epoch_s": range(100, 130),
            "step": 0,
            "target_rps": 50.0,
            "offered": 50,
            "accepted": 50,
            "throttled": 0,
        }
    )
    invocations = pd.DataFrame(
        {
            "start_epoch_ms": [100_000 + 700 * k for k in range(40)],
            "iterator_age_ms": 100.0,
            "batch_records": 37,
            "e2e_p50_ms": 500.0,
            "e2e_p99_ms": 900.0,
            "e2e_max_ms": 950.0,
        }
    )
    (step,) = measured.steps(load, invocations)
    assert step["invocations"] == 40
    (note,) = measured.measurability_notes([step])
    assert note.startswith("step 0: 40 invocations, fewer than the 100 a p99 needs")
    assert "~75 s long (now 30 s)" in note


def test_the_sample_summary_carries_intervals_and_notes(run_dir: Path) -> None:
    summary = load_summary(run_dir)
    entry = summary["model_error"]["per_step"][0]
    assert (
        entry["predicted_e2e_p99_lo_ms"] <= entry["predicted_e2e_p99_ms"] <= entry["predicted_e2e_p99_hi_ms"]
    )
    assert summary["notes"] and "fewer than the 100 a p99 needs" in summary["notes"][0]


def test_the_model_table_shows_intervals_and_marks(run_dir: Path) -> None:
    # Given the sample summary with step 1's measured e2e moved above its interval
    summary = cast(Summary, copy.deepcopy(load_summary(run_dir)))
    entry = summary["model_error"]["per_step"][1]
    entry["inside_interval_e2e"] = False

    # When the table is built
    table = content.model_error_table(summary)

    # Then the predictions carry their interval, the measurement outside is marked, short steps too
    assert "age p99 predicted [80%]" in table.headers
    assert "invocations" in table.headers
    row = table.rows[1]
    lo, hi = entry["predicted_e2e_p99_lo_ms"], entry["predicted_e2e_p99_hi_ms"]
    assert f"[{lo:,.0f}-{hi:,.0f}]" in row[table.headers.index("e2e p99 predicted [80%]")]
    assert "(outside)" in row[7]
    assert "(~max)" in row[7]
    assert "90 (too few for a p99)" in row


def test_both_reports_explain_the_interval_and_warn(run_dir: Path) -> None:
    html = (run_dir / "report.html").read_text()
    markdown = (run_dir / "report.md").read_text()
    for text in (html, markdown):
        assert "80% interval" in text
        assert "Warning: step 0: 90 invocations" in text
    assert "of measurements inside their 80% interval" in markdown  # the headline


def test_the_plot_description_mentions_the_band_and_the_short_steps(run_dir: Path) -> None:
    text = _alt_model_error(load_summary(run_dir))
    assert "bars on the predictions are their 80% intervals; 100% of the measurements" in text
    assert "4 step(s) marked ~max" in text


def test_an_old_summary_without_intervals_still_validates_and_renders(tmp_path: Path) -> None:
    # Given a summary written before intervals: none of the new keys
    run_dir = write_sample_run(tmp_path / "20261126T000000Z-old")
    data = json.loads((run_dir / "summary.json").read_text())
    data.pop("notes")
    for key in ("interval_level", "interval_coverage", "interval_median_relative_width"):
        data["model_error"].pop(key)
    for entry in data["model_error"]["per_step"]:
        for key in [k for k in entry if k.endswith(("_lo_ms", "_hi_ms")) or k.startswith("inside")]:
            entry.pop(key)
        entry.pop("invocations")
        entry.pop("p99_measurable")
    for step in data["steps"]:
        step.pop("invocations")
    assert validate_summary(data) == []
    (run_dir / "summary.json").write_text(json.dumps(data))

    # When it is rendered, Then the tables have the old columns and no interval sentence
    render_run(run_dir)
    table = content.model_error_table(load_summary(run_dir))
    assert table.headers[:3] == ("step", "rec/s", "age p99 predicted")
    assert "80% interval" not in render_markdown(load_summary(run_dir), [])
