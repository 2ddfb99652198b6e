"""JUnit XML for CI systems: one test case per compared metric, a failure per regression."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from reports.compare import Comparison

SUITE_NAME = "cdrcap.compare"


def comparison_junit(comparison: Comparison) -> ET.ElementTree:
    failures = [row for row in comparison.rows if row.regressed]
    suite = ET.Element(
        "testsuite", name=SUITE_NAME, tests=str(len(comparison.rows)), failures=str(len(failures)), errors="0"
    )
    for row in comparison.rows:
        case = ET.SubElement(suite, "testcase", classname=SUITE_NAME, name=row.metric.name)
        if row.regressed:
            failure = ET.SubElement(
                case, "failure", message=f"{row.metric.label}: {row.change_text()} ({row.verdict})"
            )
            failure.text = (
                f"baseline {row.baseline_text()}, current {row.current_text()}, "
                f"allowed {row.metric.allowed_text()}"
            )
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
