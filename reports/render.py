"""Render every artefact of a run directory from its saved summary.json and data/ tables.

`cdrcap run` calls `render_run` after writing summary.json; `cdrcap report` calls it again on an old run.
"""

from __future__ import annotations

from pathlib import Path

from reports.baseline import DEFAULT_BASELINES_DIR
from reports.data import load_run_data
from reports.html import write_html
from reports.markdown import write_markdown
from reports.plots import render_plots
from reports.scrub import scrub
from reports.summary import Summary, load_summary, write_summary
from reports.verdict import comparison_with, find_baseline


def render_run(run_dir: Path, baselines_dir: Path | None = DEFAULT_BASELINES_DIR) -> list[Path]:
    """Validate run_dir/summary.json, re-write it normalised (and scrubbed), and write the plots (PNG),
    report.html and report.md next to it. Returns every path written; raises ReportInputError when the
    summary is missing or malformed. Missing data tables give "no data" plots and a note, not an error.
    The verdict compares with the promoted baseline of the run's target in `baselines_dir` when there is one
    (None: no comparison).
    """
    summary: Summary = scrub(load_summary(run_dir))
    written = [write_summary(summary, run_dir / "summary.json")]
    data = load_run_data(run_dir, summary)
    comparison = comparison_with(summary, find_baseline(summary, baselines_dir))
    written += render_plots(run_dir, summary, data)
    written.append(write_html(run_dir, summary, data.notes, comparison))
    written.append(write_markdown(run_dir, summary, data.notes, comparison))
    return written
