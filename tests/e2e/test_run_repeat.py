"""`cdrcap run --repeat 2` on the embedded stack: two whole runs in one run directory, a summary with each
repeat's metrics and their spread, a report with the repeat table, and `cdrcap compare` judging two
repeated runs by the spread across repeats."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cdrcap.cli import main
from reports.summary import validate_summary
from tests.support.scratch_project import cli_in, latest_run, load_summary, scratch_project

# Two 15 s steps per repeat, the second past the scaled shard's 100 records/s: short, and still throttled.
SHORT_PROFILE = """

[tool.cdrcap.profiles.e2e_repeat]
shape = "step"
steps = [60, 120]
step_duration_s = 15
shards = 1
batch_size = 500
batching_window_s = 1
parallelization_factor = 1
scale = 0.1
record_formats = { json_v2 = 1.0 }
partition_key = "subscriber"
fraud_rate = 0.01
defect_rate = 0.02
seed = 1
slo = { e2e_p99_ms = 5000, iterator_age_max_ms = 10000, headroom_factor = 1.3 }
"""


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = scratch_project(tmp_path_factory, "repeat", SHORT_PROFILE)
    argv = ["run", "--target", "local", "--profile", "e2e_repeat", "--repeat", "2", "--no-progress"]
    assert cli_in(work, argv) == 0
    return latest_run(work)


@pytest.fixture(scope="module")
def summary(run_dir: Path) -> dict[str, Any]:
    return load_summary(run_dir)


def test_each_repeat_is_a_whole_run_in_its_own_directory(run_dir: Path) -> None:
    for repeat in ("repeat-1", "repeat-2"):
        for name in ("summary.json", "report.html", "data/load_seconds.csv", "data/invocations.csv"):
            assert (run_dir / repeat / name).stat().st_size > 0, f"{repeat}/{name}"
    # The run's own tables are the shown repeat's
    assert (run_dir / "data").resolve() == (run_dir / "repeat-1" / "data").resolve()


def test_the_summary_carries_every_repeat_and_the_spread(summary: dict[str, Any], run_dir: Path) -> None:
    assert validate_summary(summary) == []
    block = summary["repeats"]
    assert (block["count"], block["representative"]) == (2, 1)
    assert [run["run_id"] for run in block["runs"]] == [
        f"{run_dir.name}-repeat-1",
        f"{run_dir.name}-repeat-2",
    ]
    rates = [run["values"]["sustained_accepted_rps"] for run in block["runs"]]
    assert all(rate > 0 for rate in rates)
    spread = block["spread"]["sustained_accepted_rps"]
    assert spread["min"] <= spread["mean"] <= spread["max"]
    assert spread["mean"] == pytest.approx(sum(rates) / 2)
    # Each repeat's own noise was seeded from its own id: the within-run spreads are measured, not copied
    assert all(run["within_sd"]["sustained_accepted_rps"] >= 0 for run in block["runs"])
    assert summary["run_id"] == run_dir.name


def test_the_report_shows_the_repeat_table(run_dir: Path) -> None:
    html = (run_dir / "report.html").read_text()
    assert 'id="repeats"' in html
    markdown = (run_dir / "report.md").read_text()
    assert "### Repeats" in markdown
    assert "| 1 (shown) |" in markdown and "| 2 |" in markdown and "| sd / mean |" in markdown


def test_compare_judges_two_repeated_runs_by_their_spread(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The same repeated run on both sides: no regression, the note says the repeats decided
    assert main(["compare", str(run_dir), str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert "both runs have repeats (2 and 2)" in out
    assert "REGRESSION" not in out
