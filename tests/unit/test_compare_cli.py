"""`cdrcap compare` and `cdrcap baseline promote` through the CLI: exit codes, JUnit, Markdown, baselines."""

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from cdrcap.cli import main
from reports.sample import write_sample_run


def _summary_only(run_dir: Path, sustained_factor: float = 1.0) -> None:
    """Keep the summary alone, without its samples: the gate compares points against the fixed limits
    (tests/unit/test_compare_noise.py covers the intervals)."""
    summary = json.loads((run_dir / "summary.json").read_text())
    del summary["noise"]
    summary["throughput"]["sustained_accepted_rps"] *= sustained_factor
    (run_dir / "summary.json").write_text(json.dumps(summary))
    shutil.rmtree(run_dir / "data")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("runs")
    _summary_only(write_sample_run(root / "base"))
    _summary_only(write_sample_run(root / "same"))
    _summary_only(write_sample_run(root / "slow"), sustained_factor=0.8)
    return root


@pytest.fixture
def no_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run from an empty folder so the repository's pyproject does not decide the defaults."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_pass_exits_0_and_prints_the_table(
    runs: Path, no_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["compare", str(runs / "base"), str(runs / "same" / "summary.json")]) == 0
    assert "**Result: pass.**" in capsys.readouterr().out


def test_a_regression_exits_1_and_writes_junit_and_markdown(runs: Path, no_config: Path) -> None:
    junit, markdown = no_config / "out" / "compare.xml", no_config / "compare.md"
    code = main(
        [
            "compare",
            str(runs / "base"),
            str(runs / "slow"),
            "--junit",
            str(junit),
            "--markdown",
            str(markdown),
        ]
    )
    assert code == 1
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures")) == ("5", "1")
    failed = [case.get("name") for case in suite.iter("testcase") if case.find("failure") is not None]
    assert failed == ["sustained_accepted_rps"]
    assert "REGRESSION" in markdown.read_text()


def test_a_missing_summary_exits_2_naming_the_file(
    runs: Path, no_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["compare", str(runs / "base"), str(no_config / "nowhere")]) == 2
    assert f"{no_config / 'nowhere'}: no such file" in capsys.readouterr().err


def test_a_malformed_summary_exits_2_naming_file_and_key(
    runs: Path, no_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a current summary whose p99 latency is text
    broken = no_config / "broken.json"
    summary = json.loads((runs / "base" / "summary.json").read_text())
    summary["e2e_latency_ms"]["p99"] = "slow"
    broken.write_text(json.dumps(summary))
    junit = no_config / "junit.xml"
    # When compared Then exit 2, with the file and key in the reason, and a JUnit error for CI
    assert main(["compare", str(runs / "base"), str(broken), "--junit", str(junit)]) == 2
    err = capsys.readouterr().err
    assert str(broken) in err
    assert "e2e_latency_ms.p99: expected a number, got 'slow'" in err
    assert ET.parse(junit).getroot().find("testsuite/testcase/error") is not None


def test_thresholds_file_loosens_the_gate(runs: Path, no_config: Path) -> None:
    thresholds = no_config / "loose.toml"
    thresholds.write_text("[compare]\nsustained_accepted_rps_drop_pct = 25\n")
    assert main(["compare", str(runs / "base"), str(runs / "slow"), "--thresholds", str(thresholds)]) == 0


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('e2e_p99_increase_pct = "lots"', 'compare.e2e_p99_increase_pct: expected a number >= 0, got "lots"'),
        ("confidence_pct = 100", "compare.confidence_pct"),  # an interval needs a confidence in 50-99.9
    ],
)
def test_a_bad_thresholds_file_exits_2_naming_the_key(
    runs: Path, no_config: Path, capsys: pytest.CaptureFixture[str], line: str, reason: str
) -> None:
    thresholds = no_config / "bad.toml"
    thresholds.write_text(f"[compare]\n{line}\n")
    assert main(["compare", str(runs / "base"), str(runs / "same"), "--thresholds", str(thresholds)]) == 2
    assert reason in capsys.readouterr().err


def test_promoted_baseline_is_the_default(
    runs: Path, no_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the base run promoted
    assert main(["baseline", "promote", str(runs / "base")]) == 0
    assert (no_config / "baselines" / "local.json").is_file()
    # When a current run is compared without a baseline, or with the word `baseline`
    assert main(["compare", str(runs / "same")]) == 0
    assert main(["compare", "baseline", str(runs / "slow")]) == 1


def test_no_promoted_baseline_exits_2_saying_how_to_make_one(
    runs: Path, no_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["compare", str(runs / "same")]) == 2
    assert "cdrcap baseline promote" in capsys.readouterr().err


def test_promoting_a_malformed_run_exits_2(no_config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (no_config / "empty").mkdir()
    assert main(["baseline", "promote", str(no_config / "empty")]) == 2
    assert "summary.json: no such file" in capsys.readouterr().err
