"""The run report's fraud section: alerts the handler raised per rule vs the scenarios the load injected,
and which injected episodes the run could have caught (complete vs cut off or throttled, recall over the
complete ones; cdrcap/fraud_coverage.py).

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


def _recall(rule: dict[str, Any]) -> str:
    """`3 of 4 (75%)` over complete episodes; `-` with none complete; `unknown` when not read."""
    complete = int(rule.get("complete_episodes") or 0)
    detected = rule.get("detected_complete")
    if not complete:
        return "-"
    if detected is None:
        return "unknown"
    return f"{detected} of {complete} ({detected / complete:.0%})"


_COVERAGE_HEADERS = ("complete", "cut off", "throttled", "recall (complete episodes)")


def _row(rule: dict[str, Any], coverage: bool) -> tuple[str, ...]:
    row: tuple[str, ...] = (
        str(rule["rule_id"]),
        _count(rule["injected_episodes"]),
        _count(rule["injected_records"]),
    )
    if coverage:
        row += (
            _count(rule.get("complete_episodes", 0)),
            _count(rule.get("cut_off_episodes", 0)),
            _count(rule.get("throttled_episodes", 0)),
            _recall(rule),
        )
    return (*row, _count(rule["alerts"]))


def _full_records(document: dict[str, Any]) -> str:
    """A whole episode's records: one number (fraud.json before per-scenario sizes) or per scenario."""
    full = document["full_episode_records"]
    if isinstance(full, dict):
        return ", ".join(f"{rule} {records}" for rule, records in full.items())
    return str(full)


def _coverage_lines(document: dict[str, Any]) -> list[str]:
    rules = document["rules"]
    injected = sum(int(rule["injected_episodes"]) for rule in rules)
    complete = sum(int(rule.get("complete_episodes") or 0) for rule in rules)
    cut_off = sum(int(rule.get("cut_off_episodes") or 0) for rule in rules)
    throttled = sum(int(rule.get("throttled_episodes") or 0) for rule in rules)
    others = [rule.get("detected_other") for rule in rules if rule.get("injected_episodes")]
    anyway = (
        [f"{sum(others)} of the {cut_off + throttled} cut-off or throttled episodes were detected anyway."]
        if others and all(isinstance(n, int) for n in others) and cut_off + throttled
        else []
    )
    return [
        f"Coverage: of {injected} injected episodes, {complete} were complete within the run, {cut_off} cut "
        f"off and {throttled} throttled ({document.get('coverage_source', 'unknown source')}). An episode is "
        f"cut off when it holds fewer than a full episode's records ({_full_records(document)}): an "
        "episode unfolds over its own timeline across the producer's batches, and one begun near the end of "
        "the load is cut short, so it may never reach its rule's threshold. "
        "An episode is throttled when some of its CDRs never reached the output stream (throttled at the "
        "producer and dropped after its retries). Recall counts complete episodes only: an episode the run "
        "cut short or lost is not a miss of the rule. A complete episode is detected when one of its CDRs "
        "leaves the pipeline tagged with its rule.",
        *anyway,
    ]


def fraud_section(run_dir: Path) -> FraudSection | None:
    path = run_dir / "data" / FRAUD_FILE
    if not path.is_file():
        return None
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        rules = document["rules"]
        # A fraud.json from before the coverage split has counts only.
        coverage = "full_episode_records" in document
        rows = [_row(rule, coverage) for rule in rules]
        coverage_lines = _coverage_lines(document) if coverage else []
    except (OSError, ValueError, KeyError, TypeError) as error:
        return FraudSection(Table((), ()), (f"data/{FRAUD_FILE} is unreadable ({error!r}); no fraud table.",))
    lines = [
        f"Fraud injection: {document.get('fraud_rate', 0):g} of records "
        f"({num(float(document.get('labelled_records', 0)))} labelled fraud records). "
        f"Alerts: {document.get('alerts_source', 'unknown source')}, "
        f"{_count(document.get('alerts_total'))} in all.",
        "An alert is raised once per (rule, subscriber, window): an episode that lasts several windows can "
        "raise several, and a rule whose episodes were all cut off can still raise alerts on the "
        "episodes' partial records or on background traffic that crosses its threshold.",
        *coverage_lines,
        "For the rules' precision and recall over a whole generated day (10-55 whole episodes per rule "
        "per million CDRs), run `cdrcap fraud-eval` (docs/fraud.md).",
    ]
    headers: tuple[str, ...] = ("rule", "injected episodes", "injected records")
    headers += _COVERAGE_HEADERS if coverage else ()
    return FraudSection(Table((*headers, "alerts raised"), rows), tuple(lines))
