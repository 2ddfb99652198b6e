"""`cdrcap run --target local --profile ci`: the whole loop on the embedded stack produces every artefact,
a summary.json with every contract field and sane values, and a report Chromium renders completely."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from capacity import quotas
from cdrcap.cli import main
from infra.local.emulator import pid_alive
from reports.plots import PLOTS
from reports.summary import validate_summary
from tests.support.chromium import FIRST_SCREEN_IDS, check_layout, check_report, chromium_or_skip, screenshot
from tests.support.scratch_project import cli_in, latest_run, load_summary, scratch_project


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real run of the short `ci` profile, in a scratch copy of the config so runs/ stays clean."""
    work = scratch_project(tmp_path_factory, "run")
    assert cli_in(work, ["run", "--target", "local", "--profile", "ci", "--no-progress"]) == 0
    return latest_run(work)


@pytest.fixture(scope="module")
def summary(run_dir: Path) -> dict[str, Any]:
    return load_summary(run_dir)


def test_every_artefact_is_written(run_dir: Path) -> None:
    for name in ("summary.json", "report.html", "report.md", *(plot.filename for plot in PLOTS)):
        assert (run_dir / name).stat().st_size > 0, name
    for table in ("load_seconds.csv", "invocations.csv", "metrics.csv"):
        assert (run_dir / "data" / table).stat().st_size > 0, table


def test_summary_holds_the_contract_with_sane_values(summary: dict[str, Any]) -> None:
    # The contract's validator (keys, types, ordering, ranges) finds nothing wrong
    assert validate_summary(summary) == []
    assert summary["measured_via"] == "trace"
    throughput = summary["throughput"]
    assert 0 < throughput["accepted_rps"] <= throughput["offered_rps"]
    # The second step (180 records/s on one shard scaled to 100 records/s) must have been throttled
    assert throughput["throttled_rps"] > 0
    assert throughput["saturation_rps"] <= 1.2 * quotas.SHARD_WRITE_RECORDS_PER_S * 0.1
    for block in ("iterator_age_ms", "e2e_latency_ms", "put_latency_ms"):
        p = summary[block]
        assert p["p50"] <= p["p90"] <= p["p99"] <= p["max"], block
    assert summary["service_time_model"]["b_ms_per_record"] > 0
    assert len(summary["model_error"]["per_step"]) >= 1


def test_recommendation_is_within_quotas(summary: dict[str, Any]) -> None:
    rec = summary["recommendation"]
    assert quotas.ESM_PARALLELIZATION_FACTOR_MIN <= rec["parallelization_factor"] <= 10
    assert quotas.ESM_BATCH_SIZE_MIN <= rec["batch_size"] <= quotas.ESM_BATCH_SIZE_MAX
    assert quotas.ESM_BATCHING_WINDOW_S_MIN <= rec["batching_window_s"] <= quotas.ESM_BATCHING_WINDOW_S_MAX
    # Sized for the scale model's production rate: the records limit alone needs this many shards
    design_rps = summary["profile"]["design_rate_rps"]
    assert rec["shards"] >= design_rps / quotas.SHARD_WRITE_RECORDS_PER_S
    assert rec["binding_constraint"]
    assert rec["monthly_cost_usd"] == pytest.approx(sum(rec["cost_breakdown_usd"].values()), rel=1e-6)


def test_the_plan_prices_every_sink_from_the_runs_measured_use(summary: dict[str, Any]) -> None:
    details = summary["plan_details"]
    use = details["resource_use_per_cdr"]
    # Given the handler's own meter: transactions of claims and aggregates cost write units per CDR
    assert use["dynamodb_write_units"] > 1.0
    assert use["output_records"] > 0.5 and use["output_bytes"] > 100
    assert use["source"].startswith("measured by run")
    # Then every sink has a quota check, and the output stream is part of the plan
    assert {c["service"] for c in details["quota_checks"]} >= {"kinesis", "dynamodb", "s3", "sqs"}
    assert summary["recommendation"]["output_shards"] >= 1
    # And the metered cost of what ran agrees with the model's prediction for it within 15 %
    run_cost = summary["run_cost"]
    assert summary["metered_cost_per_million_cdrs_usd"] > 0
    assert run_cost["relative_difference"] <= 0.15, run_cost


def test_the_plan_counts_cold_starts_from_the_runs_own_init_duration(
    run_dir: Path, summary: dict[str, Any]
) -> None:
    # Given the runtime's REPORT lines (each worker's first invocation carries its Init Duration)
    inits = pd.read_csv(run_dir / "data" / "invocations.csv")["init_duration_ms"].dropna()
    assert len(inits) >= 1 and (inits > 0).all()
    # Then the plan's cold start is the run's measurement, saved for `plan --from`, and compared with PC
    cold = summary["plan_inputs"]["cold_start"]
    assert cold["init_ms"] == pytest.approx(float(inits.median()), abs=0.1)
    assert "median Init Duration" in cold["source"]
    details = summary["plan_details"]
    assert details["cold_starts"]["times"]["init_ms"] == pytest.approx(cold["init_ms"], abs=0.1)
    assert details["provisioned_concurrency"]["verdict"]
    assert "provisioned concurrency" in (run_dir / "report.md").read_text()


def test_the_profiles_scaling_day_is_compared_and_drawn(run_dir: Path, summary: dict[str, Any]) -> None:
    # Given the ci profile's scaling_day ("diurnal"), Then the plan compared every policy over a day that
    # peaks at the run's design rate, and the report shows that day
    scaling = summary["plan_details"]["scaling_policies"]
    assert scaling["traffic"]["peak_rps"] == pytest.approx(summary["plan_inputs"]["rate_rps"], rel=0.05)
    assert {p["policy"] for p in scaling["policies"]} >= {"provisioned_static", "provisioned_reactive"}
    assert "Scaling policies over a day" in (run_dir / "report.html").read_text()


def test_plan_from_the_run_reproduces_the_runs_plan(
    run_dir: Path, summary: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    # When `cdrcap plan --from RUN --json` re-plans the saved run with no flag
    capsys.readouterr()
    main(["plan", "--from", str(run_dir), "--json"])
    replanned = json.loads(capsys.readouterr().out)
    # Then it recommends exactly what the run's own plan did (same rate, scale, SLO, headroom, use)
    keys = (
        "shards",
        "parallelization_factor",
        "batch_size",
        "batching_window_s",
        "memory_mb",
        "output_shards",
    )
    assert {k: replanned["recommendation"][k] for k in keys} == {
        k: summary["recommendation"][k] for k in keys
    }
    assert replanned["recommendation"]["monthly_cost_usd"] == summary["recommendation"]["monthly_cost_usd"]


def test_the_stack_is_down_afterwards(run_dir: Path) -> None:
    state = (
        json.loads((run_dir / "stack" / "state.json").read_text())
        if (run_dir / "stack" / "state.json").exists()
        else {"pids": {}}
    )
    assert not any(pid_alive(pid) for pid in state.get("pids", {}).values())


def test_report_renders_completely_in_chromium(run_dir: Path, tmp_path: Path) -> None:
    chromium = chromium_or_skip()
    result = check_report(chromium, run_dir / "report.html", tmp_path)
    assert result.images == len(PLOTS)
    assert result.broken == []
    assert "ShardCount" in result.recommendation_text
    assert screenshot(chromium, run_dir / "report.html", tmp_path).exists()


def test_the_real_reports_first_screen_fits_a_phone_and_a_desktop(run_dir: Path, tmp_path: Path) -> None:
    chromium = chromium_or_skip()
    for width_px in (390, 1200):
        layout = check_layout(chromium, run_dir / "report.html", tmp_path, width_px)
        assert layout.overflowing == [] and layout.page_width <= width_px, (width_px, layout.overflowing)
        assert all(layout.first_screen[i] is not None for i in FIRST_SCREEN_IDS), layout.first_screen
        assert "Scale model on an emulator" in layout.evidence_text
        assert "Release check" in layout.verdict_text


def test_a_profile_with_fraud_gets_a_fraud_section(run_dir: Path) -> None:
    # The ci profile injects fraud (fraud_rate 0.02): injected episodes from labels.csv, alerts from the
    # handler's EMF lines (a count, possibly 0: Locust's small batches make short episodes)
    fraud = json.loads((run_dir / "data" / "fraud.json").read_text())
    rules = {rule["rule_id"]: rule for rule in fraud["rules"]}
    assert sum(rule["injected_episodes"] for rule in rules.values()) > 0
    assert fraud["alerts_total"] is not None and all(r["alerts"] is not None for r in rules.values())
    assert "### Fraud rules" in (run_dir / "report.md").read_text()
    # Every injected episode is split into complete / cut off / throttled, from the output stream read back
    split = ("complete_episodes", "cut_off_episodes", "throttled_episodes")
    for rule in rules.values():
        if rule["injected_episodes"]:
            assert sum(rule[key] for key in split) == rule["injected_episodes"], rule
            assert rule["detected_complete"] is not None, rule
    assert "output stream" in fraud["coverage_source"]
    assert "recall (complete episodes)" in (run_dir / "report.md").read_text()
