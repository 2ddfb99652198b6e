import json
from pathlib import Path

import pytest

from cdrcap.cli import main

BASE = ["plan", "--service-time", "40,0.3"]


def test_plan_prints_json_with_the_recommendation(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*BASE, "--rate", "2000", "--record-bytes", "400", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["feasible"] is True
    assert result["recommendation"]["shards"] >= 4


def test_plan_prints_a_table_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*BASE, "--rate", "2000", "--current-shards", "1"]) == 0
    out = capsys.readouterr().out
    assert "Recommendation" in out
    assert "Resharding path" in out
    assert "Cold starts and provisioned concurrency" in out


def test_plan_gives_each_predicted_p99_with_its_interval(capsys: pytest.CaptureFixture[str]) -> None:
    # Given a plan, when it is printed as JSON and as a table
    assert main([*BASE, "--rate", "2000", "--json"]) == 0
    predicted = json.loads(capsys.readouterr().out)["recommendation"]["predicted"]
    assert main([*BASE, "--rate", "2000"]) == 0
    out = " ".join(capsys.readouterr().out.split())

    # Then each p99 has a central value inside its 80% interval, and the table shows the interval beside it
    for key in ("iterator_age_p99", "e2e_latency_p99"):
        assert predicted[f"{key}_lo_ms"] <= predicted[f"{key}_ms"] <= predicted[f"{key}_hi_ms"]
    assert "80% interval" in out
    assert "predicted e2e_latency_p99_lo_ms" not in out


def test_emit_params_writes_cloudformation_parameters(tmp_path: Path) -> None:
    target = tmp_path / "params.json"
    assert main([*BASE, "--rate", "2000", "--emit-params", str(target), "--json"]) == 0
    params = {entry["ParameterKey"]: entry["ParameterValue"] for entry in json.loads(target.read_text())}
    assert {"ShardCount", "ParallelizationFactor", "BatchSize", "MemorySize", "StreamMode"} <= set(params)
    # A steady 2,000 CDR/s: provisioned concurrency does not pay, so none is deployed
    assert params["ProvisionedConcurrency"] == "0"


@pytest.mark.parametrize(
    "flags",
    [
        ["--rate", "-5"],
        ["--rate", "100", "--service-time", "1,x"],
        ["--rate", "100", "--consumers", "0"],
        ["--rate", "100", "--headroom", "0.5"],
        ["--rate", "100", "--key-skew", "1.0", "--hot-key-share", "0.1"],
        ["--rate", "100", "--hot-key-share", "2"],
        ["--rate", "100", "--region-prices", "/nonexistent/prices.toml"],
    ],
)
def test_bad_flags_exit_2_with_a_message(flags: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*BASE, *flags]) == 2
    assert "cdrcap plan:" in capsys.readouterr().err


def test_no_service_time_anywhere_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--rate", "100"]) == 2
    assert "--service-time" in capsys.readouterr().err


def test_impossible_slo_exits_1_and_shows_the_closest(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*BASE, "--rate", "5000", "--slo-e2e-p99-ms", "5", "--json"]) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out)["feasible"] is False
    assert "closest" in captured.err


def test_plan_from_a_saved_run_uses_its_model_and_peak_rate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = {
        "service_time_model": {
            "a_ms": 30.0,
            "b_ms_per_record": 0.2,
            "c_ms_per_kib": 0.0,
            "r2": 0.95,
            "n_invocations": 500,
        },
        "profile": {"record_bytes": 600},
        "steps": [{"step": 1, "accepted_rps": 1_000.0}, {"step": 2, "accepted_rps": 3_000.0}],
    }
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    assert main(["plan", "--from", str(tmp_path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["details"]["service_time_model"]["a_ms"] == 30.0
    assert "3,000 records/s of 600 B" in result["recommendation"]["binding_constraint"]


def test_plan_from_a_missing_run_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--from", str(tmp_path / "nope")]) == 2
    assert "summary.json" in capsys.readouterr().err


def test_plan_says_which_consumer_mode_wins_for_the_consumer_count(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # one line per sentence in rich's output
    assert main([*BASE, "--rate", "200", "--consumers", "5", "--slo-e2e-p99-ms", "1000"]) == 0
    out = capsys.readouterr().out
    assert "Consumer mode: For e2e p99 <= 1,000 ms with 5 consumers, only enhanced fan-out" in out
    assert "efo (wins)" in out


def test_plan_from_a_run_uses_its_measured_cold_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a run whose REPORT lines measured a 900 ms INIT and a 600 ms first call
    run = tmp_path / "run"
    run.mkdir()
    measured = {"init_ms": 900.0, "first_call_ms": 600.0, "source": "run r7: median Init Duration"}
    summary = {"plan_inputs": {"rate_rps": 2000, "record_bytes": 400, "cold_start": measured}}
    (run / "summary.json").write_text(json.dumps(summary))
    # When planned from it
    assert main([*BASE, "--from", str(run), "--json"]) == 0
    cold = json.loads(capsys.readouterr().out)["details"]["cold_starts"]
    # Then the plan's cold starts cost what the run measured, and say so
    assert cold["times"]["penalty_ms"] == 1_500.0
    assert cold["times"]["source"] == "run r7: median Init Duration"


def test_plan_over_a_day_counts_the_cold_starts_of_the_recommended_policy(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main([*BASE, "--traffic", "diurnal:3000", "--json"]) == 0
    details = json.loads(capsys.readouterr().out)["details"]
    scaling, cold = details["scaling_policies"], details["cold_starts"]
    chosen = next(
        p for p in scaling["policies"] if p["policy"] == (scaling["recommended"] or "provisioned_static")
    )
    assert cold["per_day"] == chosen["cold_starts_per_day"]
    assert cold["per_day_schedule"].startswith(chosen["policy"])
