"""JUnit XML for CI systems: one test case per compared metric, a failure per regression.

Every case carries the change and its confidence interval as properties; an inconclusive metric is a
skipped case (the gate could not tell), or a failure under `--strict`.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from reports.compare import Comparison, Row

SUITE_NAME = "cdrcap.compare"


def _properties(case: ET.Element, row: Row, confidence_pct: float) -> None:
    properties = ET.SubElement(case, "properties")
    values = {
        "baseline": row.baseline_text(),
        "current": row.current_text(),
        "change": row.change_text(),
        f"interval_{confidence_pct:g}pct": row.interval_text(),
        "limit": row.metric.allowed_text(),
        "verdict": row.verdict,
    }
    for name, value in values.items():
        ET.SubElement(properties, "property", name=name, value=value)


def comparison_junit(comparison: Comparison, *, strict: bool = False) -> ET.ElementTree:
    def fails(row: Row) -> bool:
        return row.regressed or (strict and row.inconclusive)

    failures = [row for row in comparison.rows if fails(row)]
    skipped = [row for row in comparison.rows if row.inconclusive and not strict]
    suite = ET.Element(
        "testsuite",
        name=SUITE_NAME,
        tests=str(len(comparison.rows)),
        failures=str(len(failures)),
        errors="0",
        skipped=str(len(skipped)),
    )
    for row in comparison.rows:
        case = ET.SubElement(suite, "testcase", classname=SUITE_NAME, name=row.metric.name)
        _properties(case, row, comparison.confidence_pct)
        message = (
            f"{row.metric.label}: {row.change_text()}, {comparison.confidence_pct:g}% interval "
            f"{row.interval_text()} ({row.verdict})"
        )
        detail = (
            f"baseline {row.baseline_text()}, current {row.current_text()}, "
            f"allowed {row.metric.allowed_text()}"
        )
        if fails(row):
            ET.SubElement(case, "failure", message=message).text = detail
        elif row in skipped:
            ET.SubElement(
                case, "skipped", message=message
            ).text = f"{detail}; the interval straddles the limit: run longer load steps to narrow it"
    return _wrap(suite)


def error_junit(reason: str) -> ET.ElementTree:
    """Malformed or missing input: one errored test case carrying the reason, so CI shows why."""
    suite = ET.Element("testsuite", name=SUITE_NAME, tests="1", failures="0", errors="1")
    case = ET.SubElement(suite, "testcase", classname=SUITE_NAME, name="inputs")
    error = ET.SubElement(case, "error", message=reason)
    error.text = reason
    return _wrap(suite)


def _wrap(suite: ET.Element) -> ET.ElementTree:
    root = ET.Element("testsuites", name=SUITE_NAME)
    root.append(suite)
    ET.indent(root)
    return ET.ElementTree(root)


def write_junit(tree: ET.ElementTree, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tree.write(path, encoding="utf-8", xml_declaration=True)
    return path
