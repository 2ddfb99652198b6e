"""`cdrcap report [RUN ...]`: re-render a run's plots, report.html and report.md from its saved data."""

from __future__ import annotations

import argparse
from pathlib import Path

from cdrcap.config import load_config
from cdrcap.errors import EXIT_OK, CdrcapError
from cdrcap.rundir import LATEST, resolve_run
from reports.errors import ReportInputError
from reports.render import render_run


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "runs", nargs="*", type=Path, metavar="RUN",
        help="run directories (or their summary.json); default: <runs_dir>/latest",
    )  # fmt: skip
    parser.add_argument("--config", type=Path, help="config file (default: cdrcap.toml or pyproject.toml)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    runs: list[Path] = args.runs or [config.runs_dir / LATEST]
    for path in runs:
        run_dir = resolve_run(path)
        try:
            written = render_run(run_dir, config.baselines_dir)  # the verdict compares with its baseline
        except ReportInputError as error:
            raise CdrcapError(f"{error}. Is {path} a run directory written by `cdrcap run`?") from None
        print(f"{run_dir}: wrote {', '.join(p.name for p in written)}")
        print(f"open {run_dir / 'report.html'}")
    return EXIT_OK
