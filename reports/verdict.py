"""The release question answered in one line, from a run's summary: is the SLO met at the measured peak, does
the plan fit the default quotas, did anything regress against the baseline; and what kind of evidence the
run is. html.py and markdown.py lay these out on the first screen and at the top of the comment.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reports.baseline import baseline_path
from reports.compare import Comparison, Thresholds, compare_summaries
from reports.errors import ReportInputError
from reports.summary import Step, Summary, load_summary


@dataclass(frozen=True)
class Finding:
    """One clause of the verdict: `ok` None means "not known" (no data, no baseline)."""

    label: str
    ok: bool | None
    text: str

    @property
    def mark(self) -> str:
        # A word as well as a colour: the verdict must read without colour vision and in plain text.
        return {True: "PASS", False: "FAIL", None: "n/a"}[self.ok]


@dataclass(frozen=True)
class Verdict:
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        return all(finding.ok is not False for finding in self.findings)

    def line(self) -> str:
        head = "Release check passes" if self.ok else "Release check fails"
        return f"{head}: " + "; ".join(f"{f.mark} {f.text}" for f in self.findings) + "."


def peak_step(summary: Summary) -> Step | None:
    """The step with the highest offered load (the measured peak)."""
    return max(summary["steps"], key=lambda s: (s["rate_rps"], s["offered_rps"]), default=None)


def slo_finding(summary: Summary) -> Finding:
    slo = summary["recommendation"]["slo"]
    peak = peak_step(summary)
    if peak is None:
        return Finding("SLO at the measured peak", None, "no load steps were measured")
    misses = []
    if peak["e2e_p99_ms"] > slo["e2e_p99_ms"]:
        misses.append(f"e2e p99 {peak['e2e_p99_ms']:,.0f} ms > {slo['e2e_p99_ms']:,.0f} ms")
    if peak["iterator_age_p99_ms"] > slo["iterator_age_max_ms"]:
        misses.append(
            f"IteratorAge p99 {peak['iterator_age_p99_ms']:,.0f} ms > {slo['iterator_age_max_ms']:,.0f} ms"
        )
    where = (
        f"at the measured peak ({peak['offered_rps']:,.0f} records/s offered, "
        f"{peak['accepted_rps']:,.0f} accepted)"
    )
    sustained = summary["throughput"]["sustained_accepted_rps"]
    if misses:
        held = f"; held up to {sustained:,.0f} records/s" if sustained > 0 else ""
        return Finding("SLO at the measured peak", False, f"SLO missed {where}: {', '.join(misses)}{held}")
    return Finding(
        "SLO at the measured peak",
        True,
        f"SLO met {where}: e2e p99 {peak['e2e_p99_ms']:,.0f} ms ≤ {slo['e2e_p99_ms']:,.0f} ms",
    )


def failed_quota_checks(summary: Summary) -> list[dict[str, Any]]:
    return [row for row in quota_checks(summary) if not row.get("ok", True)]


def quota_checks(summary: Summary) -> list[dict[str, Any]]:
    details = summary.get("plan_details") or {}
    checks = details.get("quota_checks") or []
    return [row for row in checks if isinstance(row, dict)]


def quota_finding(summary: Summary) -> Finding:
    checks = quota_checks(summary)
    design = summary["profile"].get("design_rate_rps")
    at = f" at {design:,.0f} records/s" if isinstance(design, int | float) else ""
    if not checks:
        return Finding("quotas", None, "the plan has no quota checks (an older summary)")
    failed = failed_quota_checks(summary)
    if not failed:
        return Finding("quotas", True, f"the plan fits all {len(checks)} default quotas{at}")
    names = ", ".join(
        f"{row['service']} {row['quota']}"
        + (f" ×{row['over_by']:g}" if isinstance(row.get("over_by"), int | float) else "")
        for row in failed
    )
    return Finding("quotas", False, f"the plan{at} breaks {len(failed)} default quota(s): {names}")


def find_baseline(summary: Summary, baselines_dir: Path | None) -> Summary | None:
    """The promoted baseline of the run's target, unless it is this very run; None when there is none.

    A baseline that does not load is not the report's failure (the gate, `cdrcap compare`, says why)."""
    if baselines_dir is None:
        return None
    path = baseline_path(baselines_dir, summary["target"]["name"])
    if not path.is_file():
        return None
    try:
        baseline = load_summary(path)
    except ReportInputError:
        return None
    return None if baseline["run_id"] == summary["run_id"] else baseline


def baseline_finding(summary: Summary, comparison: Comparison | None) -> Finding:
    if comparison is None:
        return Finding(
            "baseline", None, f"no baseline for target {summary['target']['name']!r} to compare with"
        )
    regressed = [row.metric.label for row in comparison.rows if row.regressed]
    if regressed:
        return Finding(
            "baseline", False, f"regression against baseline {comparison.baseline_id}: {', '.join(regressed)}"
        )
    unsure = [row.metric.label for row in comparison.rows if row.inconclusive]
    if unsure:
        # Not a failure (the gate exits 0 without --strict), but the reader must not read it as a clean pass.
        return Finding(
            "baseline",
            True,
            f"no regression against baseline {comparison.baseline_id}; inconclusive at this noise: "
            f"{', '.join(unsure)} (the interval straddles the limit)",
        )
    return Finding("baseline", True, f"no regression against baseline {comparison.baseline_id}")


def comparison_with(summary: Summary, baseline: Summary | None) -> Comparison | None:
    return None if baseline is None else compare_summaries(baseline, summary, Thresholds())


def verdict(summary: Summary, comparison: Comparison | None = None) -> Verdict:
    return Verdict((slo_finding(summary), quota_finding(summary), baseline_finding(summary, comparison)))


def evidence(summary: Summary) -> str:
    """What kind of evidence the run is: a scale model on an emulator, or a measurement of an AWS target."""
    target = summary["target"]
    profile = summary["profile"]
    scale = profile.get("scale")
    design = profile.get("design_rate_rps")
    via = summary.get("measured_via")
    measured = f", measured via {via}" if isinstance(via, str) and via else ""
    if target["is_local"]:
        scaled = f", shard limits ×{scale:g}" if isinstance(scale, int | float) and scale != 1 else ""
        plan = f"its plan for {design:,.0f} records/s" if isinstance(design, int | float) else "its plan"
        return (
            f"Scale model on an emulator (target {target['name']!r}{scaled}{measured}): it rehearses the "
            "method end to end, but its service time includes the emulator's CPU on this host, so "
            f"{plan} does not size production. Size production from a run against AWS staging."
        )
    endpoint = f", endpoint {target['endpoint_url']}" if target["endpoint_url"] else ""
    return (
        f"Measured on AWS: target {target['name']!r} in {target['region']}{endpoint}{measured}. The plan is "
        "sized from this account's measured service time and resource use."
    )
