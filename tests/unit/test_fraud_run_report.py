"""The run's fraud section: labels.csv + the handler's EMF counts -> data/fraud.json -> report.html/.md."""

from __future__ import annotations

import json
from pathlib import Path

from cdrcap.fraud_run import alert_counts, write_fraud_json
from loadgen.synth.labels import Label, LabelWriter
from reports.fraud import fraud_section
from reports.render import render_run
from reports.sample import write_sample_run


def emf(**counts: int) -> str:
    return json.dumps({"_aws": {"Timestamp": 0, "CloudWatchMetrics": []}, **counts}) + "\n"


def write_labels(run_dir: Path) -> None:
    writer = LabelWriter(run_dir / "labels.csv")
    writer.write(
        [
            Label(f"MSC01:{i}:0", "fraud", "velocity", "12015550199", "7-1-velocity-0", 0, 9, "")
            for i in range(40)
        ]
        + [Label(f"MSC02:{i}:0", "fraud", "irsf", "12015550100", "7-3-irsf-0", 0, 9, "") for i in range(40)]
        + [Label("MSC03:1:0", "defect", "nul_byte", "", "", 0, 0, "BAD_ENCODING")]
    )
    writer.close()


def test_alert_counts_sum_the_emf_lines_and_skip_other_output(tmp_path: Path) -> None:
    # Given a handler log with two EMF lines, a JSON log line and a line cut short by a killed worker
    log = tmp_path / "handler.log"
    log.write_text(
        emf(FraudAlerts=2, FraudAlerts_velocity=1, FraudAlerts_simultaneous=1)
        + '{"level": "INFO", "message": "batch processed"}\n'
        + emf(FraudAlerts=1, FraudAlerts_velocity=1)
        + '{"_aws": {"Timest\n'
    )
    # When the counts are read
    counts = alert_counts(log)
    # Then they are summed per rule
    assert counts is not None
    total, by_rule = counts
    assert total == 3 and by_rule == {"velocity": 2, "simultaneous": 1}


def test_fraud_json_counts_episodes_records_and_alerts_per_rule(tmp_path: Path) -> None:
    # Given a run dir with labels for one velocity and one IRSF episode, and a handler log
    write_labels(tmp_path)
    (tmp_path / "handler.log").write_text(emf(FraudAlerts=1, FraudAlerts_velocity=1))
    # When fraud.json is written
    path = write_fraud_json(tmp_path, 0.004, tmp_path / "handler.log")
    # Then every rule has a row; injected and raised come from their sources
    rules = {r["rule_id"]: r for r in json.loads(path.read_text())["rules"]}
    assert (
        rules["velocity"].items()
        >= {
            "rule_id": "velocity",
            "injected_episodes": 1,
            "injected_records": 40,
            "alerts": 1,
            "complete_episodes": 1,  # 40 records: a full episode (no output read: delivery unknown)
            "detected_complete": None,
        }.items()
    )
    assert rules["irsf"]["injected_episodes"] == 1 and rules["irsf"]["alerts"] == 0
    assert set(rules) == {"wangiri", "irsf", "simbox", "velocity", "simultaneous", "sms_spam"}


def test_without_a_handler_log_the_alerts_are_unknown_not_zero(tmp_path: Path) -> None:
    write_labels(tmp_path)

    document = json.loads(write_fraud_json(tmp_path, 0.004, None).read_text())

    assert document["alerts_total"] is None
    assert all(rule["alerts"] is None for rule in document["rules"])


def test_the_reports_show_the_fraud_table_when_fraud_json_is_present(tmp_path: Path) -> None:
    # Given a rendered sample run with a synthetic fraud.json
    run_dir = write_sample_run(tmp_path / "run")
    write_labels(run_dir)
    (run_dir / "handler.log").write_text(emf(FraudAlerts=4, FraudAlerts_velocity=3, FraudAlerts_irsf=1))
    write_fraud_json(run_dir, 0.004, run_dir / "handler.log")
    # When it is rendered
    render_run(run_dir)
    # Then both reports have the section with the per-rule numbers
    markdown = (run_dir / "report.md").read_text()
    html = (run_dir / "report.html").read_text()
    assert "### Fraud rules" in markdown
    assert "| velocity | 1 | 40 | 1 | 0 | 0 | unknown | 3 |" in markdown
    assert '<table id="fraud">' in html and "<h2>Fraud rules</h2>" in html


def test_the_reports_have_no_fraud_section_without_fraud_json(tmp_path: Path) -> None:
    run_dir = write_sample_run(tmp_path / "run")

    render_run(run_dir)

    assert "Fraud rules" not in (run_dir / "report.md").read_text()
    assert "Fraud rules" not in (run_dir / "report.html").read_text()


def test_a_malformed_fraud_json_is_a_note_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "fraud.json").write_text('{"rules": [{"rule_id": "wangiri"}]}')

    section = fraud_section(tmp_path)

    assert section is not None and not section.table.headers
    assert "unreadable" in section.lines[0]
