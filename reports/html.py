"""report.html: one self-contained file (inline CSS, plots as base64 data URIs) that opens offline."""

from __future__ import annotations

import base64
from html import escape
from pathlib import Path

from reports import content, cost, plan_content
from reports import verdict as verdict_module
from reports.compare import Comparison
from reports.content import Table
from reports.fraud import fraud_section
from reports.plots import (
    COST,
    COST_CURVE,
    ITERATOR_AGE,
    LATENCY,
    MODEL_ERROR,
    SCALING_DAY,
    SERVICE_TIME,
    SHARD_HEATMAP,
    THROUGHPUT,
    PlotSpec,
)
from reports.repeats import repeats_line, repeats_table
from reports.summary import Summary
from reports.verdict import verdict

_CSS = """
*, *::before, *::after { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 1240px;
       padding: 1rem; color: #1d2329; background: #fff; overflow-wrap: anywhere; }
h1 { font-size: 1.4rem; margin: 0 0 .2rem; } h2 { font-size: 1.2rem; margin-top: 2.2rem;
     border-bottom: 1px solid #d8dee4; padding-bottom: .3rem; } h3 { font-size: 1rem; margin-top: 1.4rem; }
.sub { color: #57606a; margin-top: 0; }
.verdict { border: 2px solid; border-radius: 6px; padding: .6rem .9rem; margin: .6rem 0; }
.verdict.pass { border-color: #009E73; background: #e6f5ef; } .verdict.fail { border-color: #D55E00;
                background: #fbeee6; }
.verdict p { margin: 0 0 .3rem; font-weight: 600; font-size: 1.05rem; }
.verdict ul { margin: 0; padding-left: 1.2rem; } .verdict li { margin: .15rem 0; }
.mark { font-weight: 700; font-family: ui-monospace, SFMono-Regular, Menlo, monospace; }
.evidence { background: #f6f8fa; border-left: 4px solid #0072B2; padding: .5rem .8rem; margin: .6rem 0; }
.glance { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 1rem;
          align-items: start; }
.card { border: 1px solid #d8dee4; border-radius: 6px; padding: .8rem 1rem; background: #fff; }
.card h3 { margin: 0 0 .5rem; }
.card dl { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: .25rem .8rem; margin: 0; }
.card dt { color: #57606a; } .card dd { margin: 0; font-weight: 600; font-variant-numeric: tabular-nums; }
.card .why { color: #57606a; font-size: .9rem; margin: .6rem 0 0; }
.card ul { padding-left: 1.1rem; margin: .3rem 0; }
.plots { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 480px), 1fr)); gap: 1rem; }
@media (min-width: 1000px) { .glance { grid-template-columns: minmax(0, 1.1fr) minmax(0, 1fr)
                                                             minmax(0, .9fr); }
                             .glance .wide { grid-column: 1 / -1; } }
@media (max-width: 800px) { .glance { grid-template-columns: minmax(0, 1fr); } }
nav { margin: 1rem 0; font-size: .95rem; } nav a { margin-right: .9rem; white-space: nowrap; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; margin: .6rem 0; font-variant-numeric: tabular-nums; font-size: .92rem; }
th, td { border: 1px solid #d8dee4; padding: .25rem .5rem; text-align: left; vertical-align: top;
         overflow-wrap: normal; }
th { background: #f6f8fa; }
td.num { text-align: right; white-space: nowrap; }
figure { margin: .5rem 0; min-width: 0; } figure img { display: block; width: 100%; max-width: 960px;
                                                    height: auto; border: 1px solid #d8dee4; }
figcaption { color: #57606a; font-size: .9rem; }
code, pre { font: 12px/1.4 ui-monospace, SFMono-Regular, Menlo, monospace; background: #f6f8fa; }
code { overflow-wrap: anywhere; }
pre { padding: .6rem; overflow-x: auto; border-radius: 6px; max-width: 100%; }
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


def _scroll(table_html: str) -> str:
    """A table in a box that scrolls sideways on a narrow screen instead of widening the page."""
    return f'<div class="scroll">{table_html}</div>'


def _table(table: Table | None, table_id: str) -> str:
    return _scroll(html_table(table, table_id)) if table is not None and table.rows else ""


def _figure(run_dir: Path, spec: PlotSpec, summary: Summary) -> str:
    png = run_dir / spec.filename
    figure_id = "fig-" + spec.filename.removesuffix(".png").replace("_", "-")
    if not png.exists():
        return f'<p class="notes" id="{figure_id}">{escape(png.name)}: not rendered</p>'
    encoded = base64.b64encode(png.read_bytes()).decode("ascii")
    return (
        f'<figure id="{figure_id}"><img src="data:image/png;base64,{encoded}" '
        f'alt="{escape(spec.alt(summary))}">'
        f"<figcaption>{escape(spec.title)}</figcaption></figure>"
    )


def _paragraph(text: str | None) -> str:
    return f"<p>{escape(text)}</p>" if text else ""


def _verdict_html(summary: Summary, comparison: Comparison | None) -> str:
    result = verdict(summary, comparison)
    items = "".join(
        f'<li><span class="mark">{escape(f.mark)}</span> {escape(f.text)}</li>' for f in result.findings
    )
    state = "pass" if result.ok else "fail"
    head = "Release check: PASS" if result.ok else "Release check: FAIL"
    return f'<section id="verdict" class="verdict {state}"><p>{head}</p><ul>{items}</ul></section>'


def _card_html(summary: Summary) -> str:
    rows = "".join(
        f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in plan_content.recommendation_card(summary)
    )
    failed = plan_content.failed_quota_lines(summary, remedy=False)
    quota = (
        "<h3>Quotas the plan breaks</h3><ul>"
        + "".join(f"<li>{escape(line)}</li>" for line in failed)
        + '</ul><p class="why">Remedies: <a href="#quota-checks">quota checks</a>.</p>'
        if failed
        else ""
    )
    ran = cost.run_cost(summary)
    metered = (
        '<p class="why">Cost per million CDRs as ran: '
        f"metered ${float(ran['metered']['per_million_cdrs_usd']):,.4f}, "
        f"predicted ${float(ran['predicted']['per_million_cdrs_usd']):,.4f}.</p>"
        if ran
        else ""
    )
    return (
        '<div class="card" id="recommendation-card"><h3>Recommended configuration</h3>'
        f"<dl>{rows}</dl>{metered}{quota}</div>"
    )


def _section(section_id: str, title: str, *parts: str) -> str:
    return f'<section id="{section_id}"><h2>{escape(title)}</h2>{"".join(parts)}</section>'


def _payload_formats(summary: Summary) -> str:
    formats = plan_content.payload_formats_table(summary)
    if formats is None:
        return ""
    return (
        "<h3>Payload format x aggregation</h3>"
        + _table(formats, "payload-formats")
        + _paragraph(plan_content.payload_formats_line(summary))
    )


def _scaling_section(run_dir: Path, summary: Summary) -> str:
    """The day the profile's `scaling_day` simulated under each scaling policy; nothing when it sets none."""
    scaling = (summary.get("plan_details") or {}).get("scaling_policies")
    if not scaling:
        return ""
    return "".join(
        ("<h3>Scaling policies over a day</h3>", _paragraph(scaling["sentence"] + "."),
         _plots(run_dir, summary, SCALING_DAY))
    )  # fmt: skip


def _plots(run_dir: Path, summary: Summary, *specs: PlotSpec) -> str:
    return '<div class="plots">' + "".join(_figure(run_dir, spec, summary) for spec in specs) + "</div>"


def render_html(
    run_dir: Path, summary: Summary, notes: list[str], comparison: Comparison | None = None
) -> str:
    # The recommendation and its binding constraint have their own card and section; the rest is measured.
    measured = [
        (k, v) for k, v in content.headline(summary) if k not in ("Recommendation", "Binding constraint")
    ]
    headline = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in measured)
    fraud = fraud_section(run_dir)
    modes = content.consumer_mode_table(summary)
    plan = _section(
        "plan",
        "Recommendation and alternatives",
        _table(content.recommendation_table(summary), "recommendation"),
        "<p>Deploy with <code>--parameter-overrides "
        f"{escape(content.parameter_overrides(summary))}</code></p>",
        _paragraph(content.slo_line(summary)),
        _paragraph(f"Binding constraint: {summary['recommendation']['binding_constraint']}"),
        _table(content.alternatives_table(summary), "alternatives"),
        (
            "<h3>Consumer mode</h3>"
            + _table(modes, "consumer-mode")
            + _paragraph(content.consumer_mode_line(summary))
        )
        if modes is not None
        else "",
        _payload_formats(summary),
        "<h3>Quota checks</h3>",
        _table(plan_content.quota_table(summary), "quota-checks")
        or "<p>No quota checks in this summary.</p>",
        "<h3>Cost: plan, and metered vs predicted as ran</h3>",
        _table(plan_content.cost_table(summary), "cost-breakdown"),
        _paragraph(cost.agreement_sentence(summary)),
        _paragraph(plan_content.dynamodb_capacity_line(summary)),
        _table(plan_content.cold_start_table(summary), "cold-starts"),
        _paragraph(plan_content.cold_start_line(summary)),
        _table(plan_content.exactly_once_table(summary), "exactly-once-designs"),
        "<h3>Where each plan input came from</h3>",
        _table(plan_content.provenance_table(summary), "plan-inputs"),
        _table(plan_content.resource_use_table(summary), "resource-use"),
        _plots(run_dir, summary, COST_CURVE),
        _scaling_section(run_dir, summary),
    )
    load = _section(
        "load-steps",
        "Load steps",
        f'<div class="card" id="headline"><dl>{headline}</dl></div>',
        "<p>Records and put attempts are counted apart: a record throttled and retried four times is one "
        "offered record and up to five attempts, so throttled attempts can exceed the records offered.</p>",
        _table(content.steps_table(summary), "steps"),
        _plots(run_dir, summary, SHARD_HEATMAP, SERVICE_TIME),
    )
    repeat_table = repeats_table(summary)
    repeats_html = (
        _section("repeats", "Repeats", _table(repeat_table, "repeats"), _paragraph(repeats_line(summary)))
        if repeat_table is not None
        else ""
    )
    model = _section(
        "model", "Model vs measured", _table(content.model_error_table(summary), "model-error"),
        "".join(_paragraph(line) for line in content.model_error_lines(summary)),
        _plots(run_dir, summary, MODEL_ERROR),
    )  # fmt: skip
    latency = _section(
        "latency",
        "Latency",
        _table(content.measurements_table(summary), "measurements"),
        _paragraph(content.service_time_line(summary)),
        _plots(run_dir, summary, ITERATOR_AGE, LATENCY),
    )
    fraud_html = (
        _section(
            "fraud",
            "Fraud rules",
            _table(fraud.table, "fraud") if fraud.table.headers else "",
            "".join(_paragraph(line) for line in fraud.lines),
        )
        if fraud
        else ""
    )
    notes_html = (
        '<h2>Missing data</h2><ul class="notes">' + "".join(f"<li>{escape(n)}</li>" for n in notes) + "</ul>"
        if notes
        else ""
    )
    links = [("plan", "Plan"), ("load-steps", "Load steps")]
    links += [("repeats", "Repeats")] if repeat_table is not None else []
    links += [("model", "Model"), ("latency", "Latency")]
    links += [("fraud", "Fraud")] if fraud else []
    nav = (
        "<nav>"
        + "".join(f'<a href="#{i}">{escape(t)}</a>' for i, t in [*links, ("metadata", "Metadata")])
        + "</nav>"
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>cdrcap run {escape(summary["run_id"])}</title>
<style>{_CSS}</style></head>
<body>
<header id="first-screen">
<h1>cdrcap capacity run</h1>
<p class="sub">{escape(summary["run_id"])} · target {escape(summary["target"]["name"])}
 · profile {escape(summary["profile"]["name"])}</p>
{_verdict_html(summary, comparison)}
<p class="evidence" id="evidence">{escape(verdict_module.evidence(summary))}</p>
<div class="glance">
{_figure(run_dir, THROUGHPUT, summary)}
{_card_html(summary)}
{_figure(run_dir, COST, summary)}
</div>
</header>
{nav}
{plan}
{load}
{repeats_html}
{model}
{latency}
{fraud_html}
{notes_html}
<section id="metadata"><h2>Run metadata</h2>
{_table(content.metadata_table(summary), "metadata")}
<pre>{escape(content.config_json(summary))}</pre></section>
</body></html>
"""


def write_html(
    run_dir: Path, summary: Summary, notes: list[str], comparison: Comparison | None = None
) -> Path:
    path = run_dir / "report.html"
    path.write_text(render_html(run_dir, summary, notes, comparison), encoding="utf-8")
    return path
