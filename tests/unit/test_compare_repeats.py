"""The gate across repeats (`cdrcap run --repeat N`): intervals from the repeats' spread, floored by the
noise within each run; A/A repeated runs pass, A/B with a 15 % throughput loss regress; the fallback to the
within-run bootstrap when only one side was repeated; the repeat count's bounds; the report's table."""

import json
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest

from cdrcap.cli import main
from reports.compare import Thresholds, compare_summaries
from reports.errors import ReportInputError
from reports.repeats import check_repeat, repeat_run, repeats_block, repeats_table, write_repeated_summary
from reports.sample import write_sample_run
from reports.summary import Summary

PAIRS = 20
REPEATS = 5
RUN_TO_RUN_CV = 0.02  # two runs of one build differ by ~2 % in throughput on the local stack


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    run_dir = write_sample_run(tmp_path_factory.mktemp("runs") / "template")
    summary: dict[str, Any] = json.loads((run_dir / "summary.json").read_text())
    return summary


def _run(template: dict[str, Any], run_id: str, sustained: float, within_rps: float = 0.0) -> dict[str, Any]:
    summary = json.loads(json.dumps(template))
    summary["run_id"] = run_id
    summary["throughput"]["sustained_accepted_rps"] = sustained
    offsets = {name: [0.0] * 400 for name in summary["noise"]["offsets"]}
    offsets["sustained_accepted_rps"] = list(np.linspace(-within_rps, within_rps, 400))
    summary["noise"] = {**summary["noise"], "offsets": offsets}
    return summary


def _repeated(template: dict[str, Any], run_id: str, rates: list[float], within_rps: float = 0.0) -> Summary:
    runs = [
        repeat_run(k + 1, cast(Summary, _run(template, f"{run_id}-r{k + 1}", rate, within_rps)))
        for k, rate in enumerate(rates)
    ]
    summary = _run(template, run_id, rates[0], within_rps)
    summary["repeats"] = repeats_block(runs)
    return cast(Summary, summary)


def _throughput_row(baseline: Summary, current: Summary) -> Any:
    return compare_summaries(baseline, current, Thresholds()).rows[0]


def test_a_a_repeated_runs_do_not_regress(template: dict[str, Any]) -> None:
    # Given 20 pairs of 5-repeat runs of one build (2 % run-to-run spread)
    rng = np.random.default_rng(11)
    verdicts = []
    for pair in range(PAIRS):
        rates = 1_000 * (1 + RUN_TO_RUN_CV * rng.standard_normal((2, REPEATS)))
        baseline = _repeated(template, f"a{pair}", list(rates[0]))
        current = _repeated(template, f"b{pair}", list(rates[1]))
        # When compared, Then the throughput row is judged on the repeats' interval
        verdicts.append(_throughput_row(baseline, current).regressed)
    assert sum(verdicts) <= 1


def test_a_b_repeated_runs_with_a_15_percent_throughput_loss_regress(template: dict[str, Any]) -> None:
    rng = np.random.default_rng(12)
    caught = []
    for pair in range(PAIRS):
        rates = 1_000 * (1 + RUN_TO_RUN_CV * rng.standard_normal((2, REPEATS)))
        baseline = _repeated(template, f"a{pair}", list(rates[0]))
        current = _repeated(template, f"b{pair}", list(rates[1] * 0.85))
        caught.append(_throughput_row(baseline, current).regressed)
    assert sum(caught) >= PAIRS - 1


def test_values_are_the_repeats_means_and_the_note_says_so(template: dict[str, Any]) -> None:
    baseline = _repeated(template, "base", [1_000.0, 1_020.0, 980.0])
    current = _repeated(template, "cur", [900.0, 910.0, 890.0])
    comparison = compare_summaries(baseline, current, Thresholds())
    row = comparison.rows[0]
    assert (row.baseline, row.current) == (pytest.approx(1_000.0), pytest.approx(900.0))
    assert row.interval is not None and row.interval[0] < -10.0 < row.interval[1]
    assert any("both runs have repeats (3 and 3)" in note for note in comparison.notes)


def test_repeats_that_happen_to_agree_keep_the_within_run_noise(template: dict[str, Any]) -> None:
    # Given two repeats per side that agree exactly, while each run's own bootstrap spreads +-50 rec/s
    baseline = _repeated(template, "base", [1_000.0, 1_000.0], within_rps=50.0)
    current = _repeated(template, "cur", [960.0, 960.0], within_rps=50.0)
    # When compared, Then the interval is not a point: the within-run noise is its floor
    row = _throughput_row(baseline, current)
    assert row.interval is not None
    assert row.interval[1] - row.interval[0] > 4.0
    assert row.verdict == "inconclusive"


def test_two_repeats_give_a_wider_interval_than_ten_with_the_same_spread(template: dict[str, Any]) -> None:
    # Given the same +-2 % pattern measured twice, and ten times
    few = ([980.0, 1_020.0], [960.0, 1_000.0])
    many = ([980.0, 1_020.0] * 5, [960.0, 1_000.0] * 5)
    widths = []
    for base_rates, cur_rates in (few, many):
        row = _throughput_row(_repeated(template, "b", base_rates), _repeated(template, "c", cur_rates))
        assert row.interval is not None
        widths.append(row.interval[1] - row.interval[0])
    # Then two repeats (t with 1 degree of freedom) cannot claim the precision of ten
    assert widths[0] > 3 * widths[1]


def test_only_one_side_repeated_falls_back_to_the_within_run_bootstrap(template: dict[str, Any]) -> None:
    baseline = _repeated(template, "base", [1_000.0, 1_010.0], within_rps=20.0)
    current = cast(Summary, _run(template, "cur", 990.0, within_rps=20.0))
    comparison = compare_summaries(baseline, current, Thresholds())
    row = comparison.rows[0]
    # The shown repeat (the first) against the current run, with the within-run interval
    assert (row.baseline, row.current) == (1_000.0, 990.0)
    assert any("only the baseline has repeats" in note for note in comparison.notes)


@pytest.mark.parametrize("count", [0, 11, -1])
def test_a_repeat_count_outside_1_to_10_is_refused_naming_it(count: int) -> None:
    with pytest.raises(ReportInputError, match=f"--repeat {count}: .* 1 to 10 times"):
        check_repeat(count)


def test_cdrcap_run_exits_2_on_a_bad_repeat_before_starting_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--repeat", "11", "--no-progress"]) == 2
    assert "--repeat 11" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_the_repeat_table_has_a_row_per_repeat_and_the_spread(template: dict[str, Any]) -> None:
    table = repeats_table(_repeated(template, "base", [1_000.0, 1_100.0, 900.0]))
    assert table is not None
    assert [row[0] for row in table.rows] == ["1 (shown)", "2", "3", "mean", "sd", "sd / mean"]
    assert table.rows[-1][1] == "10.0%"
    assert repeats_table(cast(Summary, _run(template, "single", 1_000.0))) is None


def test_the_repeated_runs_summary_is_the_first_repeats_with_the_block(tmp_path: Path) -> None:
    # Given two repeats of a run, each a whole run directory
    run_dir = tmp_path / "20261203T000000Z-ci"
    (run_dir / "data").mkdir(parents=True)
    repeats = [write_sample_run(run_dir / f"repeat-{k}") for k in (1, 2)]
    second = json.loads((repeats[1] / "summary.json").read_text())
    second["finished_at"] = "2026-12-03T00:09:00+00:00"
    (repeats[1] / "summary.json").write_text(json.dumps(second))
    # When the run's summary is written over them
    write_repeated_summary(run_dir, repeats, [False, False])
    summary = json.loads((run_dir / "summary.json").read_text())
    # Then it is named after the run, spans both repeats, and its data/ is the first repeat's
    assert summary["run_id"] == run_dir.name
    assert summary["finished_at"] == "2026-12-03T00:09:00+00:00"
    assert summary["repeats"]["count"] == 2 and summary["repeats"]["representative"] == 1
    assert (run_dir / "data").resolve() == (repeats[0] / "data").resolve()
