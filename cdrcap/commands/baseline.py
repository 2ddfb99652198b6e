"""`cdrcap baseline promote RUN`: record a run's summary as the baseline `cdrcap compare` defaults to."""

from __future__ import annotations

import argparse
from pathlib import Path

from cdrcap.config import load_config
from cdrcap.errors import EXIT_OK, CdrcapError
from reports.baseline import promote
from reports.errors import ReportInputError


def register(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    promote_parser = actions.add_parser(
        "promote", help="copy a run's summary to <baselines_dir>/<target>.json (commit that file)"
    )
    promote_parser.add_argument("run", type=Path, help="run directory or its summary.json, e.g. runs/latest")
    promote_parser.add_argument("--name", help="baseline name (default: the run's target name)")
    promote_parser.add_argument("--baselines-dir", type=Path, help="default: baselines_dir from config")
    promote_parser.add_argument(
        "--config", type=Path, help="config file (default: cdrcap.toml or pyproject.toml)"
    )
    promote_parser.set_defaults(func=run_promote)


def run_promote(args: argparse.Namespace) -> int:
    baselines_dir = args.baselines_dir or load_config(args.config).baselines_dir
    try:
        path = promote(args.run, baselines_dir, name=args.name)
    except ReportInputError as error:
        raise CdrcapError(f"cannot promote: {error}") from None
    print(f"baseline: {path} (from {args.run}); commit it so `cdrcap compare` gates against it")
    return EXIT_OK
