"""The invariant "every CDR accounted for exactly once", checked against a drained target.

1. aggregates: totals equal the ground truth exactly, per (key, minute) and counter; no extra item.
2. DLQ: every reject present with its reason, once after dedup by `dedup_key` (SQS is at-least-once).
3. archive: every valid cdr_id present, none foreign; duplicates allowed (re-deliveries rewrite per cut).
4. output stream: every valid cdr_id at least once, none foreign; exactly once after dedup by dedup_key.
Each check reports its duplication factor (raw lines / distinct keys) so at-least-once costs are visible.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from cdrcap.truth import GroundTruth, Observed, reject_key

MAX_DIFF_LINES = 20


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    expected: int
    observed_distinct: int
    observed_raw: int
    diff: list[str] = field(default_factory=list)

    @property
    def duplication_factor(self) -> float:
        return self.observed_raw / self.observed_distinct if self.observed_distinct else 1.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ok": self.ok,
            "expected": self.expected,
            "observed_distinct": self.observed_distinct,
            "observed_raw": self.observed_raw,
            "duplication_factor": round(self.duplication_factor, 4),
            "diff": self.diff,
        }


@dataclass(frozen=True)
class VerifyReport:
    checks: list[CheckResult]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checks": [check.to_dict() for check in self.checks]}

    def text(self) -> str:
        lines = []
        for c in self.checks:
            status = "ok  " if c.ok else "FAIL"
            lines.append(
                f"{status} {c.name}: expected {c.expected}, found {c.observed_distinct} distinct "
                f"({c.observed_raw} raw, duplication x{c.duplication_factor:.3f})"
            )
            lines += [f"       {d}" for d in c.diff]
        lines.append("invariant holds" if self.ok else "invariant does NOT hold")
        return "\n".join(lines)


def clip(diff: list[str]) -> list[str]:
    if len(diff) <= MAX_DIFF_LINES:
        return diff
    return [*diff[:MAX_DIFF_LINES], f"... and {len(diff) - MAX_DIFF_LINES} more"]


def check_aggregates(truth: GroundTruth, observed: Observed) -> CheckResult:
    diff = []
    for key in sorted(truth.aggregates.keys() | observed.aggregates.keys()):
        want, got = truth.aggregates.get(key), observed.aggregates.get(key)
        if got is None:
            diff.append(f"missing item {key[0]} {key[1]}")
        elif want is None:
            diff.append(f"unexpected item {key[0]} {key[1]}: {got}")
        else:
            diff += [
                f"{key[0]} {key[1]} {name}: expected {want[name]}, found {got.get(name)}"
                for name in want
                if want[name] != got.get(name)
            ]
    return CheckResult(
        "aggregates",
        not diff,
        len(truth.aggregates),
        len(observed.aggregates),
        len(observed.aggregates),
        clip(diff),
    )


def check_dlq(truth: GroundTruth, observed: Observed) -> CheckResult:
    rejects = [m for m in observed.dlq if "dedup_key" in m and "payload_b64" in m]
    distinct = {message["dedup_key"]: message for message in rejects}
    found = Counter(reject_key(message) for message in distinct.values())
    # Anything else in the queue is the ESM's on-failure record of a batch it gave up on: records lost.
    diff = [
        f"not a rejected record (a discarded batch?): {sorted(m)[:6]}"
        for m in observed.dlq
        if m not in rejects
    ]
    diff += [
        f"reject {digest[:12]} {reason}: expected {n}, found {found.get((digest, reason), 0)}"
        for (digest, reason), n in sorted(truth.rejects.items())
        if found.get((digest, reason), 0) != n
    ]
    diff += [
        f"unexpected reject {digest[:12]} {reason} x{n}"
        for (digest, reason), n in sorted(found.items())
        if (digest, reason) not in truth.rejects
    ]
    expected = sum(truth.rejects.values())
    return CheckResult("dlq", not diff, expected, len(distinct), len(observed.dlq), clip(diff))


def _check_cdr_ids(name: str, truth: GroundTruth, seen: Counter[str]) -> CheckResult:
    missing = sorted(truth.valid_cdr_ids - seen.keys())
    foreign = sorted(seen.keys() - truth.valid_cdr_ids)
    diff = [f"missing cdr_id {cdr_id}" for cdr_id in missing] + [f"unexpected cdr_id {c}" for c in foreign]
    return CheckResult(name, not diff, len(truth.valid_cdr_ids), len(seen), sum(seen.values()), clip(diff))


def check(truth: GroundTruth, observed: Observed) -> VerifyReport:
    return VerifyReport(
        [
            check_aggregates(truth, observed),
            check_dlq(truth, observed),
            _check_cdr_ids("archive", truth, observed.archive),
            _check_cdr_ids("output", truth, observed.output),
        ]
    )
