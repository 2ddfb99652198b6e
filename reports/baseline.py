"""Baselines: a promoted run's summary, kept at baselines/<target>.json so users commit it with the code."""

from __future__ import annotations

import re
from pathlib import Path

from reports.summary import load_summary, summary_path, write_summary

DEFAULT_BASELINES_DIR = Path("baselines")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def baseline_path(baselines_dir: Path, target_name: str) -> Path:
    return baselines_dir / f"{_SAFE_NAME.sub('_', target_name)}.json"


def promote(run: Path, baselines_dir: Path, *, name: str | None = None) -> Path:
    """Copy a run's validated summary to the baseline of its target (or `name`); returns the new path.

    A copy, not a link: runs/ is git-ignored and short-lived, the baseline is committed.
    """
    summary = load_summary(summary_path(run))
    baselines_dir.mkdir(parents=True, exist_ok=True)
    return write_summary(summary, baseline_path(baselines_dir, name or summary["target"]["name"]))
