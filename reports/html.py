"""report.html: one self-contained file (inline CSS, plots as base64 data URIs) that opens offline."""

from __future__ import annotations

import base64
from html import escape
from pathlib import Path

from reports import content
from reports.content import Table
from reports.fraud import fraud_section
from reports.plots import PLOTS
from reports.summary import Summary

_CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 1000px;
       padding: 1.5rem; color: #1d2329; background: #fff; }
h1 { font-size: 1.5rem; margin-bottom: .2rem; } h2 { font-size: 1.15rem; margin-top: 2rem;
     border-bottom: 1px solid #d8dee4; padding-bottom: .3rem; }
.sub { color: #57606a; margin-top: 0; }
dl.headline { display: grid; grid-template-columns: max-content 1fr; gap: .35rem 1rem; background: #f6f8fa;
              border: 1px solid #d8dee4; border-radius: 6px; padding: 1rem; }
dl.headline dt { font-weight: 600; } dl.headline dd { margin: 0; }
table { border-collapse: collapse; margin: .6rem 0; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #d8dee4; padding: .25rem .6rem; text-align: left; }
th { background: #f6f8fa; }
td.num { text-align: right; }
figure { margin: 1rem 0; } figure img { max-width: 100%; border: 1px solid #d8dee4; }
figcaption { color: #57606a; font-size: .9rem; }
code, pre { font: 12px/1.4 ui-monospace, SFMono-Regular, Menlo, monospace; background: #f6f8fa; }
pre { padding: .6rem; overflow-x: auto; border-radius: 6px; }
.notes { color: #9a6700; }
"""


def _looks_numeric(text: str) -> bool:
    stripped = text.replace(",", "").replace("$", "").replace("%", "").replace(".", "", 1)
    return stripped.lstrip("-").isdigit()


def html_table(table: Table, table_id: str = "") -> str:
    id_attr = f' id="{table_id}"' if table_id else ""
    head = "".join(f"<th>{escape(h)}</th>" for h in table.headers) if any(table.headers) else ""
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{escape(c)}</td>' if _looks_numeric(c) else f"<td>{escape(c)}</td>" for c in row
        )
        + "</tr>"
        for row in table.rows
    )
    thead = f"<thead><tr>{head}</tr></thead>" if head else ""
    return f"<table{id_attr}>{thead}<tbody>{body}</tbody></table>"


def _figure(png: Path, caption: str) -> str:
    if not png.exists():
        return f'<p class="notes">{escape(png.name)}: not rendered</p>'
    encoded = base64.b64encode(png.read_bytes()).decode("ascii")
    return (
        f'<figure><img src="data:image/png;base64,{encoded}" alt="{escape(caption)}">'
        f"<figcaption>{escape(caption)}</figcaption></figure>"
    )


def render_html(run_dir: Path, summary: Summary, notes: list[str]) -> str:
    headline = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in content.headline(summary))
    figures = "".join(_figure(run_dir / spec.filename, spec.title) for spec in PLOTS)
    fraud = fraud_section(run_dir)
    fraud_html = (
        "<h2>Fraud rules</h2>"
        + (html_table(fraud.table, "fraud") if fraud.table.headers else "")
        + "".join(f"<p>{escape(line)}</p>" for line in fraud.lines)
        if fraud
        else ""
    )
    modes = content.consumer_mode_table(summary)
    consumer_mode_html = (
        "<h2>Consumer mode</h2>"
        + html_table(modes, "consumer-mode")
        + f"<p>{escape(content.consumer_mode_line(summary) or '')}</p>"
        if modes is not None
        else ""
    )
    notes_html = (
        '<h2>Missing data</h2><ul class="notes">' + "".join(f"<li>{escape(n)}</li>" for n in notes) + "</ul>"
        if notes
        else ""
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>cdrcap run {escape(summary["run_id"])}</title>
<style>{_CSS}</style></head>
<body>
<h1>cdrcap capacity run</h1>
<p class="sub">{escape(summary["run_id"])} · target {escape(summary["target"]["name"])}
 · profile {escape(summary["profile"]["name"])}</p>
<dl class="headline">{headline}</dl>
<h2>Recommendation</h2>
{html_table(content.recommendation_table(summary), "recommendation")}
<p>Deploy with <code>--parameter-overrides {escape(content.parameter_overrides(summary))}</code></p>
<p>{escape(content.slo_line(summary))}</p>
{html_table(content.cost_table(summary), "cost-breakdown")}
{html_table(content.alternatives_table(summary), "alternatives")}
{consumer_mode_html}
<h2>Load steps</h2>
{html_table(content.steps_table(summary), "steps")}
<h2>Predicted vs measured</h2>
{html_table(content.model_error_table(summary), "model-error")}
<h2>Measured latency</h2>
{html_table(content.measurements_table(summary), "measurements")}
<p>{escape(content.service_time_line(summary))}</p>
{fraud_html}
<h2>Plots</h2>
{figures}
{notes_html}
<h2>Run metadata</h2>
{html_table(content.metadata_table(summary), "metadata")}
<pre>{escape(content.config_json(summary))}</pre>
</body></html>
"""


def write_html(run_dir: Path, summary: Summary, notes: list[str]) -> Path:
    path = run_dir / "report.html"
    path.write_text(render_html(run_dir, summary, notes), encoding="utf-8")
    return path
