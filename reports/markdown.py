"""report.md: the run report as GitHub-flavoured Markdown that fits a pull-request comment (no images)."""

from __future__ import annotations

from pathlib import Path

from reports import content, cost, plan_content
from reports.compare import Comparison
from reports.content import Table
from reports.fraud import FraudSection, fraud_section
from reports.repeats import repeats_line, repeats_table
from reports.summary import Summary
from reports.verdict import evidence, verdict


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table(t: Table) -> str:
    lines = ["| " + " | ".join(_cell(h) for h in t.headers) + " |", "|" + "---|" * len(t.headers)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in t.rows]
    return "\n".join(lines)


def consumer_mode_parts(summary: Summary) -> list[str]:
    modes = content.consumer_mode_table(summary)
    if modes is None:
        return []
    return ["### Consumer mode", table(modes), content.consumer_mode_line(summary) or ""]


def verdict_parts(summary: Summary, comparison: Comparison | None) -> list[str]:
    result = verdict(summary, comparison)
    head = "**Release check: PASS**" if result.ok else "**Release check: FAIL**"
    findings = "\n".join(f"- **{f.mark}** {f.text}" for f in result.findings)
    return [head + "\n\n" + findings, f"> {evidence(summary)}"]


def payload_parts(summary: Summary) -> list[str]:
    formats = plan_content.payload_formats_table(summary)
    if formats is None:
        return []
    return [
        "### Payload format x aggregation",
        table(formats),
        plan_content.payload_formats_line(summary) or "",
    ]


def quota_parts(summary: Summary) -> list[str]:
    failed = plan_content.failed_quota_lines(summary)
    if not failed:
        return []
    return ["### Quota checks that fail", "\n".join(f"- {line}" for line in failed)]


def cost_parts(summary: Summary) -> list[str]:
    agreement = cost.agreement_sentence(summary)
    cold = plan_content.cold_start_table(summary)
    return [
        "### Cost: plan, and metered vs predicted as ran",
        table(plan_content.cost_table(summary)),
        *([agreement] if agreement else []),
        *([table(cold), plan_content.cold_start_line(summary) or ""] if cold is not None else []),
    ]


def repeat_parts(summary: Summary) -> list[str]:
    repeat_table = repeats_table(summary)
    if repeat_table is None:
        return []
    return ["### Repeats", table(repeat_table), repeats_line(summary) or ""]


def render_markdown(
    summary: Summary,
    notes: list[str],
    fraud: FraudSection | None = None,
    comparison: Comparison | None = None,
) -> str:
    parts = [
        f"## cdrcap capacity run `{summary['run_id']}`",
        *verdict_parts(summary, comparison),
        "\n".join(f"- **{label}:** {value}" for label, value in content.headline(summary)),
        *quota_parts(summary),
        "### Recommendation",
        table(content.recommendation_table(summary)),
        f"Deploy with: `--parameter-overrides {content.parameter_overrides(summary)}`",
        content.slo_line(summary),
        table(content.alternatives_table(summary)),
        *consumer_mode_parts(summary),
        *payload_parts(summary),
        *cost_parts(summary),
        "### Where each plan input came from",
        table(plan_content.provenance_table(summary)),
        "### Load steps",
        "Records and put attempts are counted apart: throttled attempts include retries.",
        table(content.steps_table(summary)),
        *repeat_parts(summary),
        "### Predicted vs measured",
        table(content.model_error_table(summary)),
        *content.model_error_lines(summary),
        "### Measured latency",
        table(content.measurements_table(summary)),
        content.service_time_line(summary),
        *(
            [
                "### Fraud rules",
                *([table(fraud.table)] if fraud.table.headers else []),
                *fraud.lines,
            ]
            if fraud
            else []
        ),
        "<details><summary>Run metadata</summary>\n\n"
        + table(content.metadata_table(summary))
        + "\n\n```json\n"
        + content.config_json(summary)
        + "\n```\n</details>",
    ]
    if notes:
        parts.append("### Missing data\n" + "\n".join(f"- {note}" for note in notes))
    return "\n\n".join(parts) + "\n"


def write_markdown(
    run_dir: Path, summary: Summary, notes: list[str], comparison: Comparison | None = None
) -> Path:
    path = run_dir / "report.md"
    path.write_text(render_markdown(summary, notes, fraud_section(run_dir), comparison), encoding="utf-8")
    return path
