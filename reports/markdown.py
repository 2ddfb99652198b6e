"""report.md: the run report as GitHub-flavoured Markdown that fits a pull-request comment (no images)."""

from __future__ import annotations

from pathlib import Path

from reports import content
from reports.content import Table
from reports.fraud import FraudSection, fraud_section
from reports.summary import Summary


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


def render_markdown(summary: Summary, notes: list[str], fraud: FraudSection | None = None) -> str:
    parts = [
        f"## cdrcap capacity run `{summary['run_id']}`",
        "\n".join(f"- **{label}:** {value}" for label, value in content.headline(summary)),
        "### Recommendation",
        table(content.recommendation_table(summary)),
        f"Deploy with: `--parameter-overrides {content.parameter_overrides(summary)}`",
        content.slo_line(summary),
        table(content.cost_table(summary)),
        table(content.alternatives_table(summary)),
        *consumer_mode_parts(summary),
        "### Load steps",
        table(content.steps_table(summary)),
        "### Predicted vs measured",
        table(content.model_error_table(summary)),
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


def write_markdown(run_dir: Path, summary: Summary, notes: list[str]) -> Path:
    path = run_dir / "report.md"
    path.write_text(render_markdown(summary, notes, fraud_section(run_dir)), encoding="utf-8")
    return path
