"""Rendering of a capacity run (HTML, Markdown, JSON summary, plots, JUnit) and the baseline comparison.

Entry points: `reports.render.render_run(run_dir)` and `reports.compare.compare_summaries(...)`.
"""

SUMMARY_SCHEMA = "cdrcap.summary/1"
