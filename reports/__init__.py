"""Rendering of a capacity run (HTML, Markdown, JSON summary, plots, JUnit) and the baseline comparison.

Entry points: `reports.assemble.write_run_summary(run_dir, ...)` then `reports.render.render_run(run_dir)`;
`reports.compare.compare_summaries(...)` for the gate; `reports.sample.write_sample_run(...)` for tests.
"""

SUMMARY_SCHEMA = "cdrcap.summary/1"
