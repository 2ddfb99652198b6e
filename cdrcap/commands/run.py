"""`cdrcap run --target TARGET --profile PROFILE [--repeat N]`: one whole capacity run, or N repeats of it
into one run directory (see cdrcap/orchestrate.py)."""

from __future__ import annotations

import argparse
from pathlib import Path

from cdrcap.config import load_config
from cdrcap.orchestrate import RunRequest, exit_code, run_capacity
from reports.repeats import check_repeat


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--target", help="a target from the config (default: the config's default, local)")
    parser.add_argument("--profile", help="a load profile from the config (default: demo)")
    parser.add_argument("--config", type=Path, help="a cdrcap.toml or pyproject.toml (default: found upward)")
    parser.add_argument("--keep-stack", action="store_true", help="leave the local stack up after the run")
    parser.add_argument("--port", type=int, help="emulator port of the local stack (proxy = port + 1)")
    parser.add_argument("--workers", type=int, default=0, help="Locust worker processes (0 = one process)")
    parser.add_argument("--users", type=int, default=4, help="Locust users sharing the target rate")
    parser.add_argument("--no-progress", action="store_true", help="no live display")
    parser.add_argument(
        "--repeat", type=int, default=1, metavar="N",
        help="run the profile N times (1-10) into one run directory; compare then uses their spread",
    )  # fmt: skip
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    repeat = check_repeat(args.repeat)  # before anything starts
    config = load_config(args.config)
    request = RunRequest(
        target=config.target(args.target),
        profile=config.profile(args.profile),
        config=config,
        keep_stack=args.keep_stack,
        port=args.port,
        workers=args.workers,
        users=args.users,
        progress=not args.no_progress,
        repeat=repeat,
    )
    outcome = run_capacity(request)
    return exit_code(outcome)
