"""cdrcap/rundir.py: run ids, the runs/latest link and metadata without credentials."""

import datetime as dt
import json
import shutil
from pathlib import Path

from cdrcap.config import Target, load_config
from cdrcap.rundir import create_run_dir, new_run_id, resolve_run, run_metadata
from reports.assemble import write_run_summary
from reports.render import render_run
from reports.sample import write_sample_run
from reports.summary import load_summary

NOON = dt.datetime(2026, 11, 26, 12, 0, 0, tzinfo=dt.UTC)
REPO = Path(__file__).resolve().parents[2]


def test_run_ids_sort_by_time_and_name_the_profile() -> None:
    assert new_run_id("demo", NOON) == "20261126T120000Z-demo"


def test_a_new_run_dir_has_data_and_becomes_latest(tmp_path: Path) -> None:
    run_dir = create_run_dir(tmp_path / "runs", "demo", now=NOON)
    assert (run_dir / "data").is_dir()
    assert (tmp_path / "runs" / "latest").resolve() == run_dir.resolve()


def test_two_runs_in_one_second_get_distinct_dirs_and_latest_moves(tmp_path: Path) -> None:
    first = create_run_dir(tmp_path, "demo", now=NOON)
    second = create_run_dir(tmp_path, "demo", now=NOON)
    assert first != second
    assert resolve_run(tmp_path / "latest") == second.resolve()


def test_metadata_has_versions_commit_and_no_credentials(tmp_path: Path) -> None:
    # Given a target whose endpoint URL embeds a password
    config = load_config(cwd=REPO)
    target = Target(
        "staging", region="eu-west-1", endpoint_url="https://me:hunter2@kinesis.example", aws_profile="p"
    )
    # When the run metadata is built
    metadata = run_metadata(config, target, config.profile("demo"), cwd=REPO)
    # Then it names versions and the commit, and carries no secret
    assert metadata["versions"]["python"]
    assert metadata["git_commit"] is None or len(metadata["git_commit"]) == 40
    assert metadata["target"] == {
        "name": "staging",
        "region": "eu-west-1",
        "is_local": False,
        "endpoint_url": "https://***@kinesis.example",
    }
    assert "hunter2" not in json.dumps(metadata)
    assert metadata["config"]["profile"]["steps"] == [80, 160, 240, 320]


def test_the_run_flow_writes_a_valid_summary_and_report(tmp_path: Path) -> None:
    # Given a fresh run dir with data tables (copied from the synthetic run) and the run's metadata
    config = load_config(cwd=REPO)
    profile, target = config.profile("demo"), config.target("local")
    sample = write_sample_run(tmp_path / "sample")
    run_dir = create_run_dir(tmp_path / "runs", profile.name, now=NOON)
    for table in (sample / "data").iterdir():
        shutil.copy(table, run_dir / "data" / table.name)
    known = json.loads((sample / "summary.json").read_text())
    # When cdrcap run's last two calls are made
    write_run_summary(
        run_dir,
        started_at="2026-11-26T12:00:00Z",
        finished_at="2026-11-26T12:03:00Z",
        metadata=run_metadata(config, target, profile, cwd=REPO),
        profile={**profile.to_dict(), "record_bytes": 420.0},
        service_time_model=known["service_time_model"],
        recommendation=known["recommendation"],
        predictions=[],
        design_rate_rps=300.0,
    )
    written = render_run(run_dir)
    # Then the summary is valid and names this run, and the report is there
    summary = load_summary(run_dir)
    assert summary["run_id"] == "20261126T120000Z-demo"
    assert summary["profile"]["name"] == "demo"
    assert run_dir / "report.html" in written
