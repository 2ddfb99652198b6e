"""The report's answer to the release question: the verdict (SLO at the measured peak, quotas, baseline), the
kind of evidence, where the plan's inputs came from, the cost by service metered vs predicted, and throttling
per record vs per attempt; older summaries without the plan's details still render."""

import copy
import json
import re
from html import unescape
from pathlib import Path
from typing import Any

import pytest

from reports import cost, plan_content
from reports.baseline import promote
from reports.content import steps_table
from reports.plots import PLOTS
from reports.render import render_run
from reports.sample import sample_summary, write_sample_run
from reports.summary import Summary
from reports.verdict import evidence, verdict


@pytest.fixture(scope="module")
def summary(tmp_path_factory: pytest.TempPathFactory) -> Summary:
    return sample_summary(tmp_path_factory.mktemp("sample"))


def _rewrite(run_dir: Path, change: Any) -> None:
    data = json.loads((run_dir / "summary.json").read_text())
    change(data)
    (run_dir / "summary.json").write_text(json.dumps(data))


def test_the_verdict_fails_on_the_slo_at_the_peak_and_names_the_broken_quota(summary: Summary) -> None:
    result = verdict(summary)
    assert not result.ok
    slo, quotas, baseline = result.findings
    assert slo.ok is False and "e2e p99" in slo.text and "measured peak" in slo.text
    assert quotas.ok is False and "dynamodb table write units/s" in quotas.text and "×1.08" in quotas.text
    assert baseline.ok is None
    assert result.line().startswith("Release check fails: FAIL SLO missed")


def test_the_verdict_passes_when_the_peak_meets_the_slo_and_every_quota_fits(summary: Summary) -> None:
    # Given the same run with a relaxed SLO and a quota that fits
    relaxed: Any = copy.deepcopy(summary)
    relaxed["recommendation"]["slo"]["e2e_p99_ms"] = 60_000.0
    relaxed["recommendation"]["slo"]["iterator_age_max_ms"] = 60_000.0
    for row in relaxed["plan_details"]["quota_checks"]:
        row["ok"] = True
    # Then every known clause passes, and the missing baseline does not fail it
    result = verdict(relaxed)
    assert result.ok
    assert [f.mark for f in result.findings] == ["PASS", "PASS", "n/a"]
    assert "fits all 5 default quotas" in result.findings[1].text


def test_a_regression_against_the_promoted_baseline_is_in_the_verdict(tmp_path: Path) -> None:
    # Given a promoted baseline that sustained more, and the current run
    baseline_run = write_sample_run(tmp_path / "20261101T000000Z-demo")
    _rewrite(baseline_run, lambda s: s["throughput"].update(sustained_accepted_rps=400.0))
    promote(baseline_run, tmp_path / "baselines")
    current = write_sample_run(tmp_path / "20261126T000000Z-demo")
    # When the current run is rendered with that baselines folder
    render_run(current, tmp_path / "baselines")
    # Then both reports say which metric regressed against which baseline
    for name in ("report.html", "report.md"):
        text = (current / name).read_text()
        assert "regression against baseline 20261101T000000Z-demo: sustained accepted records/s" in text


def test_a_run_is_not_compared_with_itself(tmp_path: Path) -> None:
    run = write_sample_run(tmp_path / "20261126T000000Z-demo")
    promote(run, tmp_path / "baselines")
    render_run(run, tmp_path / "baselines")
    assert "no baseline for target 'local'" in (run / "report.md").read_text()


def test_a_local_run_says_it_is_a_scale_model_and_an_aws_run_names_its_target(summary: Summary) -> None:
    local = evidence(summary)
    assert local.startswith("Scale model on an emulator")
    assert "does not size production" in local and "×0.1" in local
    aws: Any = copy.deepcopy(summary)
    aws["target"] = {"name": "staging", "region": "eu-west-1", "is_local": False, "endpoint_url": None}
    aws["measured_via"] = "cloudwatch"
    text = evidence(aws)
    assert "Measured on AWS: target 'staging' in eu-west-1" in text and "measured via cloudwatch" in text


def test_each_plan_input_says_where_it_came_from(summary: Summary) -> None:
    table = plan_content.provenance_table(summary)
    sources = {row[0]: row[2] for row in table.rows}
    assert sources["resource use per CDR"].startswith("measured here: measured by run sample")
    assert sources["service time"].startswith("measured here (scale model): fit over")
    assert sources["design rate"] == "profile: peak step 320 ÷ scale 0.1"
    assert sources["partition keys"].startswith("assumption")
    assert sources["prices and quotas"].startswith("table: capacity/quotas.py")


def test_a_benchmark_default_resource_use_is_called_so(summary: Summary) -> None:
    defaulted: Any = copy.deepcopy(summary)
    defaulted["plan_details"]["resource_use_per_cdr"]["source"] = "benchmark default (bench_resource_use, x)"
    sources = {row[0]: row[2] for row in plan_content.provenance_table(defaulted).rows}
    assert sources["resource use per CDR"].startswith("benchmark default:")


def test_the_cost_table_has_every_item_with_metered_beside_predicted(summary: Summary) -> None:
    table = plan_content.cost_table(summary)
    assert table.headers[-2:] == ("as ran: predicted USD/1M", "as ran: metered USD/1M")
    labels = [row[0] for row in table.rows]
    assert len(labels) == len(summary["recommendation"]["cost_breakdown_usd"]) + 1
    assert "DynamoDB: write request units" in labels and "Kinesis output: shard-hours" in labels
    total = table.rows[-1]
    run_cost: Any = summary.get("run_cost")
    assert total[0] == "total"
    assert total[1] == f"${summary['recommendation']['monthly_cost_usd']:,.2f}"
    assert total[-1] == f"${run_cost['metered']['per_million_cdrs_usd']:,.4f}"


def test_costs_grouped_by_service_add_up_to_the_plan(summary: Summary) -> None:
    per_service = cost.by_service(summary["recommendation"]["cost_breakdown_usd"])
    assert next(iter(per_service)) == "DynamoDB"
    assert sum(per_service.values()) == pytest.approx(summary["recommendation"]["monthly_cost_usd"], abs=0.01)
    assert cost.service_of("something_new") == "other"


def test_the_steps_table_counts_records_and_put_attempts_apart(summary: Summary) -> None:
    table = steps_table(summary)
    assert "dropped records/s" in table.headers and "throttled attempts/s" in table.headers
    assert "throttled % of attempts" in table.headers
    last = dict(zip(table.headers, table.rows[-1], strict=True))
    step = summary["steps"][-1]
    attempts = step.get("attempts_rps", 0.0)
    assert attempts >= step["accepted_rps"] + step["throttled_rps"] - 1e-9
    assert last["throttled % of attempts"] == f"{step['throttled_rps'] / attempts * 100:.1f}%"


def test_the_markdown_has_the_verdict_failed_quotas_and_metered_vs_predicted(tmp_path: Path) -> None:
    run = write_sample_run(tmp_path / "run")
    render_run(run, None)
    markdown = (run / "report.md").read_text()
    assert markdown.index("**Release check: FAIL**") < markdown.index("### Recommendation")
    assert "### Quota checks that fail" in markdown
    assert (
        "needs 2,170, the default limit is 2,000 (×1.08); remedy: a table throughput quota increase"
        in markdown
    )
    assert (
        "| cost item | plan USD/month | plan USD/1M CDRs | as ran: predicted USD/1M | as ran: metered"
        in markdown
    )
    assert "metered $" in markdown and "per million CDRs" in markdown


def test_every_plot_has_alt_text_that_describes_it(tmp_path: Path) -> None:
    run = write_sample_run(tmp_path / "run")
    render_run(run, None)
    html = (run / "report.html").read_text()
    alts = [unescape(alt) for alt in re.findall(r'<img [^>]*alt="([^"]*)"', html)]
    assert len(alts) == len(PLOTS)
    assert all(len(alt) > 40 for alt in alts)
    assert any("saturation point of 180 records/s" in alt for alt in alts)
    assert any(alt.startswith("Stacked bar of the plan's monthly cost") for alt in alts)


def test_an_older_summary_without_the_plans_details_renders(tmp_path: Path) -> None:
    # Given a summary written before quota checks, output shards and metered cost existed
    run = write_sample_run(tmp_path / "old")

    def strip(data: dict[str, Any]) -> None:
        for key in ("plan_details", "plan_inputs", "run_cost", "metered_cost_per_million_cdrs_usd",
                    "predicted_cost_per_million_cdrs_usd_as_ran"):  # fmt: skip
            data.pop(key, None)
        data["recommendation"].pop("output_shards")
        for step in data["steps"]:
            step.pop("dropped_rps")
            step.pop("attempts_rps")

    _rewrite(run, strip)
    # When rendered Then the report is complete and says what it does not know
    written = render_run(run, None)
    assert len(written) == len(PLOTS) + 3
    markdown = (run / "report.md").read_text()
    assert "n/a** the plan has no quota checks" in markdown
    assert "as ran: metered" not in markdown
    assert "OutputShardCount" not in markdown
    html = (run / "report.html").read_text()
    assert 'id="recommendation-card"' in html and "output shards" not in html
