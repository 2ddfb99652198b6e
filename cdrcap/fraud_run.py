"""A run's fraud numbers: scenarios the load generator injected (labels.csv) vs alerts the handler raised.

The alerts are the per-rule counts the handler prints in its EMF lines (`FraudAlerts_<rule>`, one line per
invocation); the local stack writes the handler's stdout to `<run_dir>/stack/handler.log`. Written to
`<run_dir>/data/fraud.json` for the report (reports/fraud.py), with each rule's episode coverage (complete,
cut off, throttled; recall over the complete ones: cdrcap/fraud_coverage.py).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cdrcap.fraud_coverage import OutputMarks, classify, coverage_by_rule, read_output_marks
from loadgen.synth.fraud import EPISODE_RECORDS
from loadgen.synth.labels import LABELS_FILE, Label, read_labels
from pipeline.fraud.rules import RULE_IDS
from reports.fraud import FRAUD_FILE, FRAUD_SCHEMA

ALERTS_METRIC = "FraudAlerts"


def alert_counts(handler_log: Path) -> tuple[int, Counter[str]] | None:
    """(all alerts, alerts per rule) summed over the EMF lines of a handler log; None when there is none."""
    if not handler_log.is_file():
        return None
    total, by_rule = 0, Counter[str]()
    with handler_log.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            if not line.startswith("{") or '"_aws"' not in line:
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a line cut by a killed worker
            total += int(record.get(ALERTS_METRIC, 0))
            prefix = ALERTS_METRIC + "_"
            by_rule.update({k[len(prefix) :]: int(v) for k, v in record.items() if k.startswith(prefix)})
    return total, by_rule


def fraud_labels(run_dir: Path) -> list[Label]:
    labels_path = run_dir / LABELS_FILE
    if not labels_path.is_file():
        return []
    return [label for label in read_labels(labels_path) if label.kind == "fraud"]


def fraud_summary(
    run_dir: Path,
    fraud_rate: float,
    handler_log: Path | None,
    marks: OutputMarks | None = None,
    full_records: Mapping[str, int] = EPISODE_RECORDS,
) -> dict[str, Any]:
    """fraud.json: per rule, the injected episodes and records, the alerts raised, and the episodes'
    coverage (cdrcap/fraud_coverage.py; `marks`: the output stream's view of the labelled CDRs, None when
    it was not read, so delivery and detection are unknown)."""
    labels_path = run_dir / LABELS_FILE
    fraud = fraud_labels(run_dir)
    episodes = {(label.scenario, label.episode) for label in fraud}
    episodes_by_rule = Counter(scenario for scenario, _ in episodes)
    records_by_rule = Counter(label.scenario for label in fraud)
    counts = alert_counts(handler_log) if handler_log is not None else None
    coverage = coverage_by_rule(classify(fraud, full_records, marks))
    rules = [
        {
            "rule_id": rule_id,
            "injected_episodes": episodes_by_rule.get(rule_id, 0),
            "injected_records": records_by_rule.get(rule_id, 0),
            "alerts": None if counts is None else counts[1].get(rule_id, 0),
            **coverage.get(rule_id, {}),
        }
        for rule_id in RULE_IDS
    ]
    return {
        "schema": FRAUD_SCHEMA,
        "fraud_rate": fraud_rate,
        "labelled_records": len(fraud),
        "labels_file": LABELS_FILE if labels_path.is_file() else None,
        "alerts_total": None if counts is None else counts[0],
        "alerts_source": "handler EMF FraudAlerts_<rule> in stack/handler.log"
        if counts is not None
        else "not read (no handler log on this target)",
        "full_episode_records": dict(full_records),
        "coverage_source": "delivery and rule tags of the labelled CDRs read back from the output stream"
        if marks is not None
        else "labels only (the output stream was not read on this target): delivery and detection unknown",
        "rules": rules,
    }


def write_fraud_json(
    run_dir: Path, fraud_rate: float, handler_log: Path | None, output: tuple[Any, str] | None = None
) -> Path:
    """`output`: (a Kinesis client, the output stream) to read the labelled CDRs' fate from, or None."""
    marks = None
    if output is not None:
        wanted = {label.cdr_id for label in fraud_labels(run_dir)}
        try:
            marks = read_output_marks(*output, wanted)
        except Exception:  # botocore's errors: the section then says delivery is unknown; the run goes on
            marks = None
    path = run_dir / "data" / FRAUD_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(fraud_summary(run_dir, fraud_rate, handler_log, marks), indent=2) + "\n")
    return path
