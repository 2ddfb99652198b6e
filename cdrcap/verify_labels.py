"""The invariant checked from the load generator's labels alone, when a run has no ground-truth file.

Labels name the defects (cdr_id, expected reason) but not the expected totals, so this is a partial check
made exact where it can be:
- DLQ: the count of distinct rejects per reason equals the labels' (at most, if the producer dropped any);
- output stream and archive hold the same cdr_ids, and none that the labels say must be rejected;
- aggregates: every emitted CDR counted exactly once: the `records` counters of the cell items (one per
  CDR) and of the A-number items (one per CDR) each sum to the number of distinct emitted cdr_ids.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from cdrcap.errors import CdrcapError
from cdrcap.truth import Observed
from cdrcap.verify import CheckResult, VerifyReport, clip
from loadgen.measure import SUMMARY_FILE
from loadgen.synth.labels import LABELS_FILE, read_labels
from pipeline.aggregate import DIM_A_NUMBER, DIM_CELL
from pipeline.schema import ReasonCode


class LabelTruth:
    """What the labels (and the load summary) of a run promise."""

    def __init__(self, run_dir: Path) -> None:
        path = run_dir / LABELS_FILE
        if not path.exists():
            raise CdrcapError(f"{path}: no labels either: pass --truth with a ground-truth file")
        labels = [label for label in read_labels(path) if label.kind == "defect" and label.expected_reason]
        self.rejects = Counter(label.expected_reason for label in labels)
        # A source duplicate shares its cdr_id with the CDR that IS emitted: only other defects are foreign.
        self.rejected_ids = {
            label.cdr_id for label in labels if label.expected_reason != ReasonCode.DUPLICATE_CDR.value
        }
        summary_path = run_dir / "data" / SUMMARY_FILE
        totals = json.loads(summary_path.read_text()).get("totals", {}) if summary_path.exists() else {}
        # Records the producer gave up on never reached the stream: the labels then over-count.
        self.exact = bool(totals) and totals.get("dropped", 1) == 0 and totals.get("failed", 1) == 0


def _dlq(truth: LabelTruth, observed: Observed) -> CheckResult:
    distinct = {m["dedup_key"]: m for m in observed.dlq if "dedup_key" in m}
    found = Counter(str(m["reason"]) for m in distinct.values())
    diff = [
        f"not a rejected record (a discarded batch?): {sorted(m)[:6]}"
        for m in observed.dlq
        if "dedup_key" not in m
    ]
    for reason in sorted(truth.rejects.keys() | found.keys()):
        want, got = truth.rejects.get(reason, 0), found.get(reason, 0)
        if got > want or (truth.exact and got != want):
            diff.append(f"{reason}: labels expect {want}{'' if truth.exact else ' at most'}, DLQ holds {got}")
    expected = sum(truth.rejects.values())
    return CheckResult("dlq (labels)", not diff, expected, len(distinct), len(observed.dlq), clip(diff))


def _emitted(name: str, truth: LabelTruth, seen: Counter[str], other: Counter[str]) -> CheckResult:
    diff = [
        f"emitted although labelled a defect: {cdr_id}" for cdr_id in sorted(truth.rejected_ids & seen.keys())
    ]
    diff += [
        f"missing here but present in the other sink: {cdr_id}"
        for cdr_id in sorted(other.keys() - seen.keys())
    ]
    return CheckResult(name, not diff, len(other), len(seen), sum(seen.values()), clip(diff))


def _aggregates(observed: Observed) -> CheckResult:
    emitted = len(observed.output)
    diff = []
    for dimension in (DIM_CELL, DIM_A_NUMBER):
        counted = sum(
            v["records"] for (pk, _), v in observed.aggregates.items() if pk.startswith(dimension + "#")
        )
        if counted != emitted:
            diff.append(f"{dimension} items count {counted} records, {emitted} distinct CDRs were emitted")
    return CheckResult(
        "aggregates (sums)", not diff, emitted, len(observed.aggregates), len(observed.aggregates), diff
    )


def check_labels(truth: LabelTruth, observed: Observed) -> VerifyReport:
    return VerifyReport(
        [
            _aggregates(observed),
            _dlq(truth, observed),
            _emitted("archive (labels)", truth, observed.archive, observed.output),
            _emitted("output (labels)", truth, observed.output, observed.archive),
        ]
    )
