"""The run report's fraud section: alerts the handler raised per rule vs the scenarios the load injected.

Reads `<run_dir>/data/fraud.json` (written by `cdrcap run` when the profile injects fraud; see
cdrcap/fraud_run.py). Absent file: no section. A malformed file is reported as a note, never a crash.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reports.content import Table, num

FRAUD_FILE = "fraud.json"  # in <run_dir>/data/
FRAUD_SCHEMA = "cdrcap.fraud/1"


@dataclass(frozen=True)
class FraudSection:
    table: Table
    lines: tuple[str, ...]


def _count(value: Any) -> str:
    return "-" if value is None else num(float(value))


def fraud_section(run_dir: Path) -> FraudSection | None:
    path = run_dir / "data" / FRAUD_FILE
    if not path.is_file():
        return None
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        rules = document["rules"]
        rows = [
            (
                str(rule["rule_id"]),
                _count(rule["injected_episodes"]),
                _count(rule["injected_records"]),
                _count(rule["alerts"]),
            )
            for rule in rules
        ]
    except (OSError, ValueError, KeyError, TypeError) as error:
        return FraudSection(Table((), ()), (f"data/{FRAUD_FILE} is unreadable ({error!r}); no fraud table.",))
    lines = [
        f"Fraud injection: {document.get('fraud_rate', 0):g} of records "
        f"({num(float(document.get('labelled_records', 0)))} labelled fraud records). "
        f"Alerts: {document.get('alerts_source', 'unknown source')}, "
        f"{_count(document.get('alerts_total'))} in all.",
        "An alert is raised once per (rule, subscriber, window): a burst can raise one alert per rule that "
        "sees it (the simultaneous-call rule fires on overlapping IRSF/SIM-box calls too), and rules with no "
        "injected scenario can only raise alerts on background traffic or on another scenario's actors. "
        "Precision and recall against ground truth come from `cdrcap fraud-eval` (docs/fraud.md).",
    ]
    return FraudSection(
        Table(("rule", "injected episodes", "injected records", "alerts raised"), rows), tuple(lines)
    )
