"""`cdrcap report`: re-render a saved run without re-running the load."""

from pathlib import Path

import pytest

from cdrcap.cli import main
from cdrcap.rundir import update_latest
from reports.sample import write_sample_run


def test_report_rerenders_a_saved_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a run with saved data and no rendered artefacts
    run_dir = write_sample_run(tmp_path / "runs" / "r1")
    assert not (run_dir / "report.html").exists()
    # When re-rendered
    assert main(["report", str(run_dir)]) == 0
    # Then the report is there and the command says where
    assert (run_dir / "report.html").is_file()
    assert (run_dir / "report.md").is_file()
    assert str(run_dir / "report.html") in capsys.readouterr().out


def test_report_defaults_to_the_latest_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given runs/latest pointing at a run, in a folder whose config names runs/ as the runs dir
    run_dir = write_sample_run(tmp_path / "runs" / "r2")
    update_latest(tmp_path / "runs", run_dir)
    (tmp_path / "cdrcap.toml").write_text('runs_dir = "runs"\n')
    monkeypatch.chdir(tmp_path)
    # When `cdrcap report` runs without arguments Then it renders that run
    assert main(["report"]) == 0
    assert (run_dir / "report.md").is_file()


def test_report_on_a_folder_without_summary_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "summary.json: no such file" in err
    assert "written by `cdrcap run`" in err
