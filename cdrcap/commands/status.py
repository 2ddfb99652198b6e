"""`cdrcap status`: what of the local stack runs where; `--json` for scripts (endpoint, every resource)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cdrcap.errors import EXIT_CHECK_FAILED, EXIT_OK, CdrcapError
from infra.local.stack import DEFAULT_STATE_DIR, LocalStack


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print StackInfo as JSON")
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    stack = LocalStack(args.state_dir)
    info = stack.status()
    if info is None:
        raise CdrcapError(f"nothing is up in {stack.state_dir}; `cdrcap up` starts the local stack")
    alive = stack.alive()
    if args.json:
        print(json.dumps({**info.to_dict(), "running": alive}, indent=2))
    else:
        print(f"state dir   {info.state_dir}")
        for name, pid in info.pids.items():
            print(f"{name:<11} pid {pid:<8} {'running' if alive.get(name) else 'NOT RUNNING'}")
        print(f"emulator    {info.endpoint_url}")
        print(f"kinesis     {info.kinesis_endpoint_url} (limits proxy, scale {info.config.scale})")
        print(f"input       {info.input_stream_name} ({info.config.shards} shards)")
        print(f"output      {info.output_stream_name}")
        print(f"table       {info.aggregates_table}")
        print(f"bucket      {info.archive_bucket}")
        print(f"dlq         {info.dlq_url}")
        print(f"bus         {info.alert_bus}")
        print(f"trace       {info.trace_path}")
    # A stack with a dead process is not healthy: say so in the exit code too.
    return EXIT_OK if all(alive.values()) else EXIT_CHECK_FAILED
