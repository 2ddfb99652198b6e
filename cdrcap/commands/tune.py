"""`cdrcap tune`: a power-tuning sweep of the deployed function over memory sizes and architectures.

Writes runs/<utc time>-tune/{tune.json, tune.csv, tune.png, data/invocations.csv}; `cdrcap plan --from`
that directory plans with the measured duration curve instead of the memory-scaling estimate.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from capacity.quotas import ESM_BATCH_SIZE_MAX, ESM_BATCH_SIZE_MIN
from capacity.tuning import TUNE_CSV, TUNE_FILE, TuneTable, parse_architectures, parse_memories
from cdrcap import tune
from cdrcap.config import load_config
from cdrcap.errors import EXIT_OK, CdrcapError
from cdrcap.rundir import create_run_dir, resolve_run
from infra.local.stack import DEFAULT_STATE_DIR
from infra.power_tuning import TunableFunction

PLOT_FILE = "tune.png"


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--target", default="local", help="local, or a target of [tool.cdrcap.targets]")
    parser.add_argument("--config", type=Path, help="config file (default: cdrcap.toml or pyproject.toml)")
    parser.add_argument(
        "--memory", default="256,512,1024,1769", help="memory sizes in MB, 128-10,240 (default %(default)s)"
    )
    parser.add_argument("--arch", default="arm64,x86_64", help="architectures (default %(default)s)")
    parser.add_argument(
        "--from",
        dest="from_run",
        type=Path,
        metavar="RUN_DIR",
        help="replay this run's load at its plan's batch",
    )
    parser.add_argument(
        "--batches",
        default=str(tune.DEFAULT_BATCHES),
        help=f"batches replayed per configuration, or 'small' ({tune.SMALL_BATCHES}) (default %(default)s)",
    )
    parser.add_argument(
        "--batch-size", type=int, help="records per batch (default: the run's plan, else 100)"
    )
    parser.add_argument("--seed", type=int, help="the synthesizer's seed (default: the run's, else 20)")
    parser.add_argument(
        "--state-dir", type=Path, default=DEFAULT_STATE_DIR, help="local: the stack's state dir"
    )
    parser.add_argument("--runs-dir", type=Path, default=Path("runs"), help="where the run directory goes")
    parser.add_argument("--json", action="store_true", help="print tune.json")
    parser.set_defaults(func=run)


def parse_batches(text: str) -> int:
    if text == "small":
        return tune.SMALL_BATCHES
    if not text.isdigit() or int(text) < 2:
        raise CdrcapError(
            f"--batches {text!r}: give a whole number >= 2 (the first invocation is a cold start) or 'small'"
        )
    return int(text)


def _function(args: argparse.Namespace) -> TunableFunction:
    if args.target == "local":
        from infra.local.tune_function import LocalFunction

        return LocalFunction(args.state_dir)
    from cdrcap.aws_targets import aws_target
    from cdrcap.stages import stack_outputs
    from infra.aws import client
    from infra.power_tuning import AwsFunction
    from pipeline import constants

    configured = load_config(args.config).target(args.target)
    aws = aws_target(configured)
    outputs = stack_outputs(aws, configured, constants.DEFAULT_STACK_NAME)
    return AwsFunction(
        client(aws, "lambda"),
        outputs[constants.OUTPUT_FUNCTION_NAME],
        outputs[constants.OUTPUT_INPUT_STREAM_ARN],
        aws.region,
    )


def run(args: argparse.Namespace) -> int:
    memories = parse_memories(args.memory)
    architectures = parse_architectures(args.arch)
    batches = parse_batches(args.batches)
    if args.batch_size is not None and not ESM_BATCH_SIZE_MIN <= args.batch_size <= ESM_BATCH_SIZE_MAX:
        raise CdrcapError(
            f"--batch-size {args.batch_size}: the event source mapping takes "
            f"{ESM_BATCH_SIZE_MIN}-{ESM_BATCH_SIZE_MAX:,} records"
        )
    from_run = resolve_run(args.from_run) if args.from_run else None
    if from_run is not None and not (from_run / "summary.json").is_file():
        raise CdrcapError(f"--from {args.from_run}: no summary.json there; pass a runs/<id> directory")
    source = tune.source_from_run(from_run, args.batch_size, args.seed)
    function = _function(args)
    try:
        table, invocations = tune.run_sweep(
            function,
            memories,
            architectures,
            source,
            batches,
            target=args.target,
            progress=lambda line: print(line, file=sys.stderr),
        )
    finally:
        function.close()
    run_dir = create_run_dir(args.runs_dir, "tune")
    document = write_outputs(table, invocations, run_dir)
    if args.json:
        print(json.dumps(document, indent=2))
    else:
        render(table, Console())
        print(
            f"run dir {run_dir}: {TUNE_FILE}, {TUNE_CSV}, {PLOT_FILE}; `cdrcap plan --from {run_dir}` uses it"
        )
    return EXIT_OK


def write_outputs(table: TuneTable, invocations: Any, run_dir: Path) -> dict[str, Any]:
    from reports.tune_plot import plot_tune  # matplotlib only when a sweep is drawn

    document = table.to_dict()
    (run_dir / TUNE_FILE).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    table.to_frame().to_csv(run_dir / TUNE_CSV, index=False)
    if len(invocations):
        invocations.to_csv(run_dir / "data" / "invocations.csv", index=False)
    plot_tune(document, run_dir / PLOT_FILE)
    return document


def _number(value: float, spec: str) -> str:
    return "-" if isinstance(value, float) and math.isnan(value) else format(value, spec)


def render(table: TuneTable, console: Console) -> None:
    shown = Table(title=f"Power tuning on {table.measured_on}: {table.source}")
    for column in (
        "memory MB",
        "arch",
        "CPU share",
        "invocations",
        "warm mean ms",
        "p90 ms",
        "billed ms",
        "max mem MB",
        "init ms",
        "cold ms",
        "CPU ms",
        "USD / M CDRs",
    ):
        shown.add_column(column, justify="right")
    for row in table.rows:
        if not row.measured:
            shown.add_row(f"{row.memory_mb:,}", row.architecture, "-", "not measured", *["-"] * 8)
            continue
        shown.add_row(
            f"{row.memory_mb:,}",
            row.architecture,
            _number(row.cpu_share, ".3f"),
            str(row.invocations),
            _number(row.duration_ms_mean, ",.1f"),
            _number(row.duration_ms_p90, ",.1f"),
            _number(row.billed_duration_ms_mean, ",.1f"),
            _number(row.max_memory_used_mb, ",.0f"),
            _number(row.init_duration_ms, ",.0f"),
            _number(row.cold_duration_ms, ",.0f"),
            _number(row.handler_cpu_ms, ",.0f"),
            _number(row.cost_per_million_cdrs_usd, ",.4f"),
        )
    console.print(shown)
    cheapest, fastest = table.cheapest(), table.fastest_near_cheapest()
    if cheapest is None or fastest is None:
        console.print("No configuration could be measured here; see the notes above.")
        return
    console.print(
        f"Cheapest: {cheapest.memory_mb:,} MB {cheapest.architecture} "
        f"({cheapest.cost_per_million_cdrs_usd:,.4f} USD per million CDRs, "
        f"{cheapest.duration_ms_mean:,.1f} ms). "
        f"Fastest within 10 % of it: {fastest.memory_mb:,} MB {fastest.architecture} "
        f"({fastest.cost_per_million_cdrs_usd:,.4f} USD, {fastest.duration_ms_mean:,.1f} ms)."
    )
    host = table.extra.get("host_cpu_cores")
    if host is not None:
        console.print(f"The host gave an unlimited process {host:.2f} of a core when the sweep started.")
    for row in table.rows:
        if row.note:
            console.print(f"{row.memory_mb:,} MB {row.architecture}: {row.note}")
