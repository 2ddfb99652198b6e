"""`cdrcap down`: stop everything `cdrcap up` started, by PID (SIGTERM, then SIGKILL after a deadline)."""

from __future__ import annotations

import argparse
from pathlib import Path

from cdrcap.errors import EXIT_OK
from infra.local.stack import DEFAULT_STATE_DIR, LocalStack


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    outcome = LocalStack(args.state_dir).down()
    print("local stack down: " + ", ".join(f"{name} {state}" for name, state in outcome.items()))
    return EXIT_OK
