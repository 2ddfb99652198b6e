"""`cdrcap fraud-eval`: run the fraud rules over a labelled synthetic day; print precision, recall, latency.

In process, fake stores, no AWS: the numbers depend only on the rules file, the seed and the CDR count.
Exit 1 when a rule misses its target (recall >= 0.95, precision >= 0.90), so CI can gate rule changes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from cdrcap.errors import EXIT_CHECK_FAILED, EXIT_OK, CdrcapError
from pipeline.fraud.errors import RulesConfigError
from pipeline.fraud.eval_data import synthesize_day
from pipeline.fraud.evaluation import EvaluationResult, evaluate_day
from pipeline.fraud.rules import load_rules

MIN_CDRS = 10_000  # below this each scenario gets its minimum of 3 instances and recall means little


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cdrs", type=int, default=1_000_000, help="CDRs in the synthetic day (default 1000000)"
    )
    parser.add_argument("--seed", type=int, default=7, help="random seed of the synthetic day (default 7)")
    parser.add_argument("--rules", default=None, help="rules file (default: the packaged rules.json)")
    parser.add_argument(
        "--batch-size", type=int, default=500, help="records per simulated batch (default 500)"
    )
    parser.add_argument(
        "--instances-per-million", type=int, default=30, help="injected instances per scenario per 1M CDRs"
    )
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print the result as JSON")
    output.add_argument("--markdown", action="store_true", help="print the table as Markdown (docs/fraud.md)")
    parser.set_defaults(func=run)


def _latency(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _table(result: EvaluationResult, *, markdown: bool) -> str:
    header = [
        "rule",
        "instances",
        "detected",
        "recall",
        "alerts",
        "precision",
        "latency p50 s",
        "p95 s",
        "max s",
    ]
    rows = [
        [
            q.rule_id,
            str(q.instances),
            str(q.detected),
            f"{q.recall:.3f}",
            str(q.alerts),
            f"{q.precision:.3f}",
            _latency(q.latency_p50_s),
            _latency(q.latency_p95_s),
            _latency(q.latency_max_s),
        ]
        for q in result.quality
    ]
    cdrs_per_cpu_s = result.cdrs / max(result.engine_cpu_s, 1e-9)
    summary = (
        f"{result.cdrs:,} CDRs in {result.batches:,} batches, rules {result.rules_version}; "
        f"engine {result.engine_cpu_s:.1f} CPU s ({cdrs_per_cpu_s:,.0f} CDRs per CPU second), "
        f"{result.state_writes / max(result.cdrs, 1):.2f} state writes per CDR"
    )
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join([*lines, "", summary])
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True))
        for row in [header, *rows]
    ]
    return "\n".join([*lines, summary])


def run(args: argparse.Namespace) -> int:
    if args.cdrs < MIN_CDRS:
        raise CdrcapError(f"--cdrs {args.cdrs} is too small to measure recall; use at least {MIN_CDRS}")
    if args.batch_size < 1 or args.instances_per_million < 1:
        raise CdrcapError("--batch-size and --instances-per-million must be >= 1")
    try:
        rules = load_rules(args.rules)
    except RulesConfigError as error:
        raise CdrcapError(str(error)) from error
    started = time.perf_counter()
    day = synthesize_day(args.cdrs, args.seed, instances_per_million=args.instances_per_million)
    synth_s = time.perf_counter() - started
    result = evaluate_day(day, rules, batch_size=args.batch_size)
    if args.json:
        print(json.dumps({**result.to_dict(), "seed": args.seed, "synth_s": round(synth_s, 2)}, indent=2))
    else:
        print(_table(result, markdown=args.markdown))
    if not result.meets_targets:
        missed = [q.rule_id for q in result.quality if not q.meets_targets]
        print(f"cdrcap fraud-eval: below target for {', '.join(missed)}", file=sys.stderr)
        return EXIT_CHECK_FAILED
    return EXIT_OK
