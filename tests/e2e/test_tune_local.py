"""`cdrcap tune --target local --memory 256,1769 --batches small` on the embedded stack: the real handler
from the unpacked zip, each configuration's REPORT lines read back from the emulator's CloudWatch Logs, the
table and the plot written in a run directory, and `cdrcap plan --from` it planning with the curve."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cdrcap.cli import main
from infra.local import cpu_limit
from infra.local.stack import LocalStack, LocalStackConfig
from infra.local.tune_function import host_architecture
from tests.support.local_stack import two_free_ports


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The real pipeline stack (infra/pipeline.yaml, the handler from the zip) on a free port pair."""
    path = tmp_path_factory.mktemp("stack") / "state"
    local = LocalStack(path)
    local.up(LocalStackConfig(shards=1, port=two_free_ports()))
    try:
        yield path
    finally:
        local.down()


@pytest.fixture(scope="module")
def run_dir(state_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    runs = tmp_path_factory.mktemp("runs")
    argv = ["tune", "--target", "local", "--memory", "256,1769", "--batches", "small"]
    assert main([*argv, "--state-dir", str(state_dir), "--runs-dir", str(runs)]) == 0
    return (runs / "latest").resolve()


def test_the_sweep_writes_its_table_and_plot_in_a_tune_run_directory(run_dir: Path) -> None:
    assert run_dir.name.endswith("-tune")
    for name in ("tune.json", "tune.csv", "tune.png", "data/invocations.csv"):
        assert (run_dir / name).stat().st_size > 0, name


def test_each_native_configuration_is_measured_from_its_report_lines(run_dir: Path) -> None:
    tune: dict[str, Any] = json.loads((run_dir / "tune.json").read_text())
    native = {r["memory_mb"]: r for r in tune["rows"] if r["architecture"] == host_architecture()}
    assert set(native) == {256, 1769}
    for memory_mb, row in native.items():
        assert row["status"] == "measured" and row["invocations"] == 4
        assert row["batch_records"] == 100
        assert 0 < row["duration_ms_mean"] <= row["billed_duration_ms_mean"] + 1
        assert row["init_duration_ms"] > 0 and row["cold_duration_ms"] > 0 and row["max_memory_used_mb"] > 0
        assert row["cpu_share"] == pytest.approx(cpu_limit.cpu_share(memory_mb), abs=1e-3)
    assert "CPU limiter" in tune["measured_on"]
    assert tune["cheapest"] is not None and tune["fastest_within_10pct_of_cheapest"] is not None


def test_the_other_architecture_is_reported_not_measurable_locally(run_dir: Path) -> None:
    tune = json.loads((run_dir / "tune.json").read_text())
    other = [r for r in tune["rows"] if r["architecture"] != host_architecture()]
    assert other and all(r["status"] == "not measured" for r in other)
    assert all("not measurable locally" in r["note"] for r in other)


def test_plan_from_the_tune_directory_uses_the_measured_curve(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["plan", "--from", str(run_dir), "--rate", "200", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["details"]["memory_scaling"]["kind"] == "measured"
    assert result["recommendation"]["memory_mb"] in (256, 1769)
