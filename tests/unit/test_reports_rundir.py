"""cdrcap/rundir.py: run ids, the runs/latest link and metadata without credentials."""

import datetime as dt
import json
from pathlib import Path

import pytest

from cdrcap.config import Target, load_config
from cdrcap.rundir import create_run_dir, new_run_id, resolve_run, run_metadata

pytestmark = pytest.mark.unit

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
