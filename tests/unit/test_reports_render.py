import json
import re
from pathlib import Path

import pytest

from capacity import payload
from capacity.fit import ServiceTimeModel
from capacity.quotas import US_EAST_1
from capacity.search import SearchSpace, Slo, Workload
from reports.plots import PLOTS
from reports.render import render_run
from reports.sample import write_sample_run

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    run_dir = write_sample_run(tmp_path_factory.mktemp("runs") / "20261126T000000Z-demo")
    return run_dir, render_run(run_dir)


def test_every_artefact_is_written(rendered: tuple[Path, list[Path]]) -> None:
    run_dir, written = rendered
    names = {p.name for p in written}
    assert names == {"summary.json", "report.html", "report.md", *(spec.filename for spec in PLOTS)}
    for path in written:
        assert path.parent == run_dir
        assert path.stat().st_size > 0


def test_every_plot_is_a_png(rendered: tuple[Path, list[Path]]) -> None:
    run_dir, _ = rendered
    for spec in PLOTS:
        assert (run_dir / spec.filename).read_bytes()[:8] == PNG_MAGIC, spec.filename


def test_the_html_is_self_contained(rendered: tuple[Path, list[Path]]) -> None:
    html = (rendered[0] / "report.html").read_text()
    sources = re.findall(r'src="([^"]*)"', html)
    assert len(sources) == len(PLOTS)
    assert all(src.startswith("data:image/png;base64,") for src in sources)
    assert "<link" not in html
    assert "http://" not in html.replace("http://127.0.0.1", "")
    assert "https://" not in html


def test_the_html_has_the_headline_and_recommendation_table(rendered: tuple[Path, list[Path]]) -> None:
    html = (rendered[0] / "report.html").read_text()
    assert "Measured saturation point" in html
    assert "Binding constraint" in html
    assert "Predicted vs measured" in html
    assert '<table id="recommendation">' in html
    assert "ShardCount" in html


def test_the_markdown_has_tables_and_no_images(rendered: tuple[Path, list[Path]]) -> None:
    markdown = (rendered[0] / "report.md").read_text()
    assert "| setting | value | template parameter |" in markdown
    assert "| step | target rec/s |" in markdown
    assert "![" not in markdown
    assert "<img" not in markdown
    # a GitHub PR comment holds 65,536 characters
    assert len(markdown) < 65_536


def test_the_summary_is_rewritten_normalised(rendered: tuple[Path, list[Path]]) -> None:
    text = (rendered[0] / "summary.json").read_text()
    data = json.loads(text)
    assert text == json.dumps(data, indent=2, sort_keys=True) + "\n"


def test_missing_data_tables_give_no_data_plots_and_notes(tmp_path: Path) -> None:
    # Given a run whose data/ folder was lost (only summary.json survives)
    run_dir = write_sample_run(tmp_path / "partial")
    for table in (run_dir / "data").iterdir():
        table.unlink()
    # When it is rendered
    written = render_run(run_dir)
    # Then every artefact is still there and the report says what is missing
    assert len(written) == len(PLOTS) + 3
    markdown = (run_dir / "report.md").read_text()
    assert "### Missing data" in markdown
    assert "data/load_seconds.csv: not found" in markdown


def test_planner_candidates_csv_feeds_the_cost_plot(tmp_path: Path) -> None:
    # Given the planner's candidates as data/plan_candidates.csv and no cost_curve in the summary
    run_dir = write_sample_run(tmp_path / "with-candidates")
    summary = json.loads((run_dir / "summary.json").read_text())
    del summary["recommendation"]["cost_curve"]
    (run_dir / "summary.json").write_text(json.dumps(summary))
    (run_dir / "data" / "plan_candidates.csv").write_text(
        "shards,monthly_cost_usd,feasible,memory_mb\n2,30.1,false,512\n3,33.4,true,512\n4,44.9,true,512\n"
    )
    # When rendered Then no note says the candidates are missing
    render_run(run_dir)
    assert "planner candidates" not in (run_dir / "report.md").read_text()


def test_credentials_never_reach_any_output(tmp_path: Path) -> None:
    # Given a summary whose config and target carry secrets
    run_dir = write_sample_run(tmp_path / "leaky")
    summary = json.loads((run_dir / "summary.json").read_text())
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    summary["config"]["aws_secret_access_key"] = secret
    summary["config"]["nested"] = {"session_token": secret, "aws_access_key_id": "AKIAIOSFODNN7EXAMPLE"}
    summary["config"]["note"] = "key AKIAIOSFODNN7EXAMPLE"
    summary["target"]["endpoint_url"] = "http://user:hunter2@127.0.0.1:4566"
    (run_dir / "summary.json").write_text(json.dumps(summary))
    # When rendered
    written = render_run(run_dir)
    # Then no text artefact holds them
    for path in written:
        if path.suffix in (".json", ".md", ".html"):
            text = path.read_text()
            for leaked in (secret, "AKIAIOSFODNN7EXAMPLE", "hunter2"):
                assert leaked not in text, f"{leaked} in {path.name}"


def test_the_payload_format_table_is_shown_when_the_plan_has_one(tmp_path: Path) -> None:
    # Given a run whose plan compared every payload format x aggregation (a KPL run, or plan --aggregation)
    run_dir = write_sample_run(tmp_path / "kpl")
    space = SearchSpace(
        consumer_modes=("shared",), memories_mb=(1_769,), architectures=("arm64",), simulate_s=40.0
    )
    result = payload.plan_payload(
        ServiceTimeModel(40.0, 0.3),
        Workload(5_000, 400),
        Slo(),
        space,
        US_EAST_1,
        payload.PayloadRequest(aggregation="auto"),
    )
    summary = json.loads((run_dir / "summary.json").read_text())
    summary["plan_details"]["payload_formats"] = result.details["payload_formats"]
    (run_dir / "summary.json").write_text(json.dumps(summary))
    # When rendered
    render_run(run_dir)
    # Then both reports show the six pairs, the chosen one marked, and why it was chosen
    html = (run_dir / "report.html").read_text()
    markdown = (run_dir / "report.md").read_text()
    chosen = result.details["payload_formats"]["chosen"]
    assert '<table id="payload-formats">' in html and html.count("x kpl") >= 3
    assert "### Payload format x aggregation" in markdown
    assert f"{chosen['record_format']} x {chosen['aggregation']} (chosen)" in markdown
    assert "Payload: auto chose" in markdown and payload.BENCH in markdown


def test_no_payload_format_table_without_one(rendered: tuple[Path, list[Path]]) -> None:
    assert "payload-formats" not in (rendered[0] / "report.html").read_text()
    assert "Payload format x aggregation" not in (rendered[0] / "report.md").read_text()


def test_both_reports_compare_cold_starts_with_provisioned_concurrency(
    rendered: tuple[Path, list[Path]],
) -> None:
    html = (rendered[0] / "report.html").read_text()
    markdown = (rendered[0] / "report.md").read_text()
    # Given the sample plan's cold starts over its day, both reports show the two options and the verdict
    assert '<table id="cold-starts">' in html
    for text in (html, markdown):
        assert "no provisioned concurrency" in text
        assert "(shards x PF)" in text
        assert "bench_cold_start" in text  # where the cold start's duration came from
        assert "INIT 113 ms + first call 360 ms" in text  # a plan input, with its source
        assert "does not pay" in text or "pays" in text


@pytest.mark.parametrize(
    ("per_record", "record_bytes", "expected_rps", "binds"),
    [
        # measured on the local stack 2026-12-03, 1 shard at scale 0.1, 70 % Avro + 30 % JSON v2:
        (14.05, 359.2, 291.9, "bytes"),  # KPL: saturated at 293 CDR/s, the bytes limit
        (1.0, 337.7, 100.0, "records"),  # no aggregation: saturated at 106 CDR/s, the records limit
        (None, None, 100.0, "records"),  # an older summary without plan_inputs
    ],
)
def test_the_stream_write_limit_is_the_lower_of_records_and_bytes(
    per_record: float | None, record_bytes: float | None, expected_rps: float, binds: str
) -> None:
    from reports.plots import stream_write_limit

    inputs = {"cdrs_per_record": per_record, "record_bytes": record_bytes} if per_record else {}
    summary: dict = {"profile": {"stack": {"shards": 1, "scale": 0.1}}, "plan_inputs": inputs}
    limit = stream_write_limit(summary)  # type: ignore[arg-type]
    assert limit is not None
    assert limit[0] == pytest.approx(expected_rps, rel=0.001) and limit[1].startswith(binds)
