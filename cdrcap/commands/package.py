"""`cdrcap package`: build the deterministic Lambda zip and print `<sha256>  <path>` (sha256sum format)."""

from __future__ import annotations

import argparse
from pathlib import Path

from cdrcap.errors import EXIT_OK, CdrcapError
from infra.errors import InfraError
from infra.package import DEFAULT_ARCHITECTURE, LAMBDA_PLATFORMS, build_lambda_zip, sha256_of

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
        help="zip pipeline/ only (no phonenumbers/orjson): for tests, not for a working function",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        path = build_lambda_zip(
            args.output_dir, include_dependencies=args.include_dependencies, architecture=args.architecture
        )
    except InfraError as error:
        raise CdrcapError(str(error)) from error
    print(f"{sha256_of(path)}  {path}")
    return EXIT_OK
