"""`cdrcap package`: build the deterministic Lambda zip, print `<sha256>  <path>` (sha256sum format), then its
size against Lambda's limits and the cold-start import time of its handler; `--json` for all of it as one
object. Exit 1 when the zip breaks a limit or its handler does not import."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from capacity.quotas import MIB
from cdrcap.errors import EXIT_CHECK_FAILED, EXIT_OK, CdrcapError
from infra.package import (
    DEFAULT_ARCHITECTURE,
    LAMBDA_PLATFORMS,
    build_lambda_zip,
    build_scaler_zip,
    sha256_of,
)
from infra.package_report import PackageReport, report

DEFAULT_OUTPUT_DIR = Path("dist")


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--output-dir", type=Path, default=DEFAULT_OUTPUT_DIR, help="where to write the zip (default: dist/)"
    )
    parser.add_argument(
        "--architecture",
        choices=sorted(LAMBDA_PLATFORMS),
        default=DEFAULT_ARCHITECTURE,
        help="Lambda architecture the dependencies are fetched for; must match the stack's Architecture",
    )
    parser.add_argument(
        "--no-dependencies",
        dest="include_dependencies",
        action="store_false",
        help="zip pipeline/ only (none of the lambda extra): for tests, not for a working function",
    )
    parser.add_argument(
        "--python",
        help="interpreter to time the cold start with (default: one of the zip's Python version on PATH)",
    )
    parser.add_argument("--no-cold-start", dest="cold_start", action="store_false", help="skip the timing")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
    parser.add_argument(
        "--scaler",
        action="store_true",
        help="build the scaler function's zip instead (infra/scaler.yaml, `scaler/` alone, stdlib only)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.scaler:
        try:
            path = build_scaler_zip(args.output_dir)
        except OSError as error:
            raise CdrcapError(f"cannot write the scaler zip in {args.output_dir}: {error}") from error
        print(f"{sha256_of(path)}  {path}")
        return EXIT_OK
    try:
        path = build_lambda_zip(
            args.output_dir, include_dependencies=args.include_dependencies, architecture=args.architecture
        )
        result = report(path, sha256_of(path), python=args.python, measure=args.cold_start)
    except OSError as error:
        raise CdrcapError(f"cannot build or measure the zip in {args.output_dir}: {error}") from error
    if args.json:
        document = dataclasses.asdict(result)
        document["limits"] = [{**dataclasses.asdict(c), "ok": c.ok} for c in result.limits]
        document["ok"] = result.ok
        json.dump(document, sys.stdout, indent=1)
        print()
    else:
        print(f"{result.sha256}  {result.path}")
        print(render(result))
    return EXIT_OK if result.ok else EXIT_CHECK_FAILED


def render(result: PackageReport) -> str:
    lines = [f"{result.entries:,} entries; top-level modules: {', '.join(result.top_level)}"]
    for check in result.limits:
        verdict = "ok" if check.ok else "OVER THE LIMIT"
        lines.append(
            f"{check.quota}: {check.used_bytes / MIB:.1f} MiB of {check.limit_bytes / MIB:.0f} MiB "
            f"({check.used_bytes / check.limit_bytes:.0%}) {verdict}"
        )
    cold = result.cold_start
    if cold.median_ms is None:
        lines.append(f"cold start: {cold.note}")
    else:
        lines.append(
            f"cold start: import pipeline.handler {cold.median_ms:.0f} ms (median of {len(cold.samples_ms)}, "
            f"{cold.python})"
        )
    return "\n".join(lines)
