"""`cdrcap compare [BASELINE] CURRENT`: the release gate. Exit 0 pass, 1 regression, 2 bad input.

An inconclusive metric (its confidence interval straddles the limit) exits 0, or 1 under `--strict`.

BASELINE and CURRENT are run directories or summary.json files; BASELINE may be the word `baseline` or be
left out, meaning <baselines_dir>/<CURRENT's target>.json (written by `cdrcap baseline promote`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cdrcap.config import load_config, load_thresholds
from cdrcap.errors import EXIT_CHECK_FAILED, EXIT_OK, EXIT_USAGE, CdrcapError
from reports.baseline import baseline_path
from reports.compare import Thresholds, compare_summaries, comparison_markdown
from reports.errors import ReportInputError
from reports.junit import comparison_junit, error_junit, write_junit
from reports.noise import with_noise
from reports.summary import Summary, load_summary

BASELINE_WORD = "baseline"


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths", nargs="+", metavar="RUN",
        help="[BASELINE] CURRENT: run dirs or summary.json files; BASELINE may be `baseline` or omitted",
    )  # fmt: skip
    parser.add_argument(
        "--thresholds", type=Path, help="TOML with the thresholds (default: [tool.cdrcap.compare])"
    )
    parser.add_argument("--junit", type=Path, help="write JUnit XML here (one test case per metric)")
    parser.add_argument("--markdown", type=Path, help="also write the Markdown table here (for a PR comment)")
    parser.add_argument(
        "--strict",
        action="store_true",
        help="fail (exit 1) on an inconclusive metric too, not only a regression",
    )
    parser.add_argument(
        "--baselines-dir", type=Path, help="where promoted baselines live (default: from config)"
    )
    parser.add_argument("--config", type=Path, help="config file (default: cdrcap.toml or pyproject.toml)")
    parser.set_defaults(func=run)


def _inputs(args: argparse.Namespace, baselines_dir: Path) -> tuple[Summary, Summary]:
    if len(args.paths) > 2:
        raise ReportInputError(f"expected [BASELINE] CURRENT, got {len(args.paths)} paths")
    current = _load(Path(args.paths[-1]))
    if len(args.paths) == 2 and args.paths[0] != BASELINE_WORD:
        return _load(Path(args.paths[0])), current
    promoted = baseline_path(baselines_dir, current["target"]["name"])
    if not promoted.exists():
        raise ReportInputError(
            f"{promoted}: no baseline for target {current['target']['name']!r}; "
            "record one with `cdrcap baseline promote runs/<id>` or pass BASELINE explicitly"
        )
    return _load(promoted), current


def _load(path: Path) -> Summary:
    """The summary with its bootstrap noise (computed from the run's data tables when it lacks it)."""
    return with_noise(load_summary(path), path)


def run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
        thresholds: Thresholds = load_thresholds(args.thresholds) if args.thresholds else config.thresholds
        baseline, current = _inputs(args, args.baselines_dir or config.baselines_dir)
    except (ReportInputError, CdrcapError) as error:
        # Bad input still leaves a JUnit file behind, so the CI page says why the gate could not run.
        if args.junit:
            write_junit(error_junit(str(error)), args.junit)
        print(f"cdrcap compare: {error}", file=sys.stderr)
        return EXIT_USAGE
    comparison = compare_summaries(baseline, current, thresholds)
    text = comparison_markdown(comparison)
    print(text, end="")
    if args.markdown:
        args.markdown.write_text(text, encoding="utf-8")
    if args.junit:
        write_junit(comparison_junit(comparison, strict=args.strict), args.junit)
    failed = comparison.regressed or (args.strict and comparison.inconclusive)
    return EXIT_CHECK_FAILED if failed else EXIT_OK
