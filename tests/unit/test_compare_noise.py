"""The noise-aware gate on recorded samples: A/A pairs pass, A/B pairs with a 15 % throughput loss regress.

The recording is the demo run of 2026-12-02 on the local stack (tests/unit/data/recorded_demo: its
data/load_seconds.csv and data/invocations.csv). Each synthetic run resamples it in 10 s blocks within each
load step, so two runs differ the way two runs of one build do; the gate bootstraps them its own way.
"""

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import pytest

from cdrcap.cli import main
from reports import measured
from reports.compare import Thresholds, compare_summaries
from reports.noise import metric_draws, noise_block, noise_from_tables, samples_from_tables
from reports.sample import write_sample_run
from reports.summary import Summary

RECORDED = Path(__file__).parent / "data" / "recorded_demo"
SLO_AGE_MS = 10_000.0
PAIRS = 20
RESAMPLE_BLOCK_S = 10


@pytest.fixture(scope="module")
def recorded() -> tuple[pd.DataFrame, pd.DataFrame]:
    return pd.read_csv(RECORDED / "load_seconds.csv"), pd.read_csv(RECORDED / "invocations.csv")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A complete summary whose measured blocks each synthetic run replaces."""
    run_dir = write_sample_run(tmp_path_factory.mktemp("runs") / "template")
    summary: dict[str, Any] = json.loads((run_dir / "summary.json").read_text())
    summary["recommendation"]["slo"]["iterator_age_max_ms"] = SLO_AGE_MS
    return summary


def _blocks(frame: pd.DataFrame, rng: np.random.Generator, block: int) -> pd.DataFrame:
    if frame.empty:
        return frame
    block = min(block, len(frame))
    starts = rng.integers(0, len(frame) - block + 1, size=-(-len(frame) // block))
    rows = (starts[:, None] + np.arange(block)).ravel()[: len(frame)]
    return frame.iloc[rows]


def _resampled_run(
    recorded: tuple[pd.DataFrame, pd.DataFrame], rng: np.random.Generator, accepted_factor: float = 1.0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A run drawn from the recording: each step's seconds and invocations block-resampled, kept in the
    step's time window (so steps and their invocations still line up)."""
    load, invocations = recorded
    seconds, calls = [], []
    claimed = np.zeros(len(invocations), dtype=bool)
    for _, step in load.groupby("step", sort=True):
        drawn = _blocks(step, rng, RESAMPLE_BLOCK_S).copy()
        drawn["epoch_s"] = step["epoch_s"].to_numpy()
        seconds.append(drawn)
        start_ms, end_ms = step["epoch_s"].min() * 1000, (step["epoch_s"].max() + 1) * 1000
        inside = (
            (invocations["start_epoch_ms"] >= start_ms) & (invocations["start_epoch_ms"] < end_ms)
        ).to_numpy()
        claimed |= inside
        per_block = max(1, round(RESAMPLE_BLOCK_S * inside.sum() / len(step)))
        drawn_calls = _blocks(invocations[inside], rng, per_block).copy()
        drawn_calls["start_epoch_ms"] = np.sort(invocations[inside]["start_epoch_ms"].to_numpy())
        calls.append(drawn_calls)
    calls.append(invocations[~claimed])
    load_run = pd.concat(seconds, ignore_index=True)
    load_run["accepted"] = load_run["accepted"] * accepted_factor
    return load_run, pd.concat(calls, ignore_index=True)


def _summary(template: dict[str, Any], run_id: str, load: pd.DataFrame, invocations: pd.DataFrame) -> Summary:
    """The template with this run's measured blocks and noise, as reports/assemble.py computes them."""
    step_rows = measured.steps(load, invocations)
    summary = json.loads(json.dumps(template))
    summary.update(
        run_id=run_id,
        throughput=measured.throughput(load, step_rows, SLO_AGE_MS),
        throttle_ratio=measured.throttle_ratio(load),
        e2e_latency_ms=measured.e2e_percentiles(invocations),
        iterator_age_ms=measured.percentiles(invocations["iterator_age_ms"].to_numpy(dtype=float)),
        steps=step_rows,
        noise=noise_from_tables(load, invocations, run_id=run_id, slo_age_ms=SLO_AGE_MS),
    )
    return cast(Summary, summary)


def _pair(
    template: dict[str, Any], recorded: tuple[pd.DataFrame, pd.DataFrame], seed: int, accepted_factor: float
) -> tuple[Summary, Summary]:
    rng = np.random.default_rng(seed)
    baseline = _summary(template, f"A-{seed}", *_resampled_run(recorded, rng))
    current = _summary(template, f"B-{seed}", *_resampled_run(recorded, rng, accepted_factor))
    return baseline, current


def test_the_gate_recomputes_the_reports_own_definitions(recorded: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    # Given the recorded tables, When the bootstrap's statistic runs on them unresampled
    load, invocations = recorded
    own = {
        k: v[0] for k, v in metric_draws(samples_from_tables(load, invocations, SLO_AGE_MS), 1, None).items()
    }
    # Then it equals reports/measured.py's numbers
    step_rows = measured.steps(load, invocations)
    assert own["sustained_accepted_rps"] == pytest.approx(
        measured.throughput(load, step_rows, SLO_AGE_MS)["sustained_accepted_rps"]
    )
    assert own["throttle_ratio"] == pytest.approx(measured.throttle_ratio(load) * 100)
    assert own["e2e_latency_p99_ms"] == pytest.approx(measured.e2e_percentiles(invocations)["p99"])
    assert own["iterator_age_max_ms"] == pytest.approx(invocations["iterator_age_ms"].max())


def test_the_noise_is_reproducible_from_its_seed(recorded: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    samples = samples_from_tables(*recorded, SLO_AGE_MS)
    assert noise_block(samples, seed=3) == noise_block(samples, seed=3)
    assert noise_block(samples, seed=3) != noise_block(samples, seed=4)


def test_a_a_pairs_do_not_regress(
    template: dict[str, Any], recorded: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    # Given 20 pairs of runs drawn from the same recording (the same build twice)
    regressed = []
    for seed in range(PAIRS):
        baseline, current = _pair(template, recorded, seed, accepted_factor=1.0)
        # When the gate compares them
        comparison = compare_summaries(baseline, current, Thresholds())
        regressed.append(comparison.regressed)
    # Then at least 19 of 20 pass (possibly inconclusive), none called a regression by chance twice
    assert sum(regressed) <= 1


def test_a_b_pairs_with_a_15_percent_throughput_loss_regress(
    template: dict[str, Any], recorded: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    # Given 20 pairs whose current run accepts 15 % fewer records per second
    caught = []
    for seed in range(PAIRS):
        baseline, current = _pair(template, recorded, 100 + seed, accepted_factor=0.85)
        comparison = compare_summaries(baseline, current, Thresholds())
        row = next(r for r in comparison.rows if r.metric.name == "sustained_accepted_rps")
        # Then the interval lies wholly beyond the -5 % limit
        caught.append(row.regressed)
    assert sum(caught) >= PAIRS - 1


def _with_offsets(
    template: dict[str, Any], run_id: str, sustained: float, spread_rps: float
) -> dict[str, Any]:
    summary = json.loads(json.dumps(template))
    summary["run_id"] = run_id
    summary["throughput"]["sustained_accepted_rps"] = sustained
    offsets = {name: [0.0] * 400 for name in summary["noise"]["offsets"]}
    offsets["sustained_accepted_rps"] = list(np.linspace(-spread_rps, spread_rps, 400))
    summary["noise"] = {**summary["noise"], "offsets": offsets}
    return summary


def _junit_case(junit: Path, name: str) -> ET.Element:
    return next(c for c in ET.parse(junit).getroot().iter("testcase") if c.get("name") == name)


def _write(root: Path, summary: dict[str, Any]) -> Path:
    path = root / f"{summary['run_id']}.json"
    path.write_text(json.dumps(summary))
    return path


def test_an_interval_straddling_the_limit_is_inconclusive_exit_0_or_1_under_strict(
    template: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a 6 % throughput drop measured with a +-10 % noise on each run (limit: -5 %)
    monkeypatch.chdir(tmp_path)
    base = _write(tmp_path, _with_offsets(template, "base", 200.0, 20.0))
    current = _write(tmp_path, _with_offsets(template, "current", 188.0, 18.8))
    junit, markdown = tmp_path / "gate.xml", tmp_path / "gate.md"
    # When compared, Then inconclusive: exit 0, the interval printed
    assert main(["compare", str(base), str(current), "--junit", str(junit), "--markdown", str(markdown)]) == 0
    out = capsys.readouterr().out
    assert "**inconclusive** (limit -5%)" in out
    assert "**Result: inconclusive** in sustained accepted records/s" in out
    row = next(line for line in markdown.read_text().splitlines() if "sustained accepted" in line)
    assert "| -6.0% | [-" in row
    # And JUnit marks it skipped with the interval as a property
    case = _junit_case(junit, "sustained_accepted_rps")
    assert case.find("skipped") is not None
    assert any(p.get("name") == "interval_90pct" for p in case.iter("property"))
    # And under --strict it fails
    assert main(["compare", str(base), str(current), "--strict", "--junit", str(junit)]) == 1
    assert _junit_case(junit, "sustained_accepted_rps").find("failure") is not None


def test_a_drop_whose_interval_lies_within_the_limit_passes(template: dict[str, Any]) -> None:
    base = _with_offsets(template, "base", 200.0, 2.0)
    current = _with_offsets(template, "current", 198.0, 2.0)
    comparison = compare_summaries(cast(Summary, base), cast(Summary, current), Thresholds())
    row = comparison.rows[0]
    assert (row.verdict, row.interval is not None) == ("pass", True)
    assert row.interval is not None and row.interval[0] < -1.0 < row.interval[1]


def test_a_baseline_without_samples_borrows_the_current_runs_noise(template: dict[str, Any]) -> None:
    base = _with_offsets(template, "base", 200.0, 20.0)
    del base["noise"]
    current = _with_offsets(template, "current", 188.0, 18.8)
    comparison = compare_summaries(cast(Summary, base), cast(Summary, current), Thresholds())
    assert comparison.rows[0].verdict == "inconclusive"
    assert any("baseline has no samples" in note for note in comparison.notes)
