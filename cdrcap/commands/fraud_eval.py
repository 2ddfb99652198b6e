"""`cdrcap fraud-eval`: the fraud rules against a labelled synthetic day; per rule precision, recall, latency.

Every rule is measured on the load generator's day (loadgen.synth at its default fraud rates, with the
legitimate look-alikes, decoded by the handler's own processor: see cdrcap/fraud_loadgen_eval.py). In
process, no AWS: the numbers depend only on the rules file, the seed and the CDR count. Exit 1 when a rule
misses recall >= 0.95 or precision >= 0.90.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time

from capacity.quotas import ESM_BATCH_SIZE_MAX, ESM_BATCH_SIZE_MIN
from cdrcap.errors import EXIT_CHECK_FAILED, EXIT_OK, CdrcapError
from cdrcap.fraud_eval.evaluation import PRECISION_TARGET, RECALL_TARGET, RuleQuality
from cdrcap.fraud_loadgen_eval import evaluate_loadgen_day
from pipeline.fraud.rules import load_rules

MIN_CDRS = 10_000  # below this each scenario gets a handful of instances and recall means little
SOURCE = "loadgen.synth"
HEADER = ("rule", "instances", "cut off", "detected", "recall", "alerts", "precision", "other-fraud alerts",
          "latency p50 s", "p95 s", "max s")  # fmt: skip


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cdrs", type=int, default=1_000_000, help="CDRs in the synthetic day (default 1000000)"
    )
    parser.add_argument("--seed", type=int, default=7, help="random seed of the synthetic day (default 7)")
    parser.add_argument("--rules", default=None, help="rules file (default: the packaged rules.json)")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=100,
        help="records per Kinesis batch handed to the processor (default 100, ~9 s of a 1M-CDR day)",
    )
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print the result as JSON")
    output.add_argument("--markdown", action="store_true", help="print the table as Markdown (docs/fraud.md)")
    parser.set_defaults(func=run)


def _latency(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _row(quality: RuleQuality) -> list[str]:
    return [
        quality.rule_id,
        str(quality.instances),
        str(quality.cut_off),
        str(quality.detected),
        f"{quality.recall:.3f}",
        str(quality.alerts),
        f"{quality.precision:.3f}",
        str(quality.other_fraud_alerts),
        _latency(quality.latency_p50_s),
        _latency(quality.latency_p95_s),
        _latency(quality.latency_max_s),
    ]


def render_table(rows: list[list[str]], *, markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
        return "\n".join([*lines, *("| " + " | ".join(row) + " |" for row in rows)])
    table = [list(HEADER), *rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(HEADER))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in table)


def run(args: argparse.Namespace) -> int:
    if args.cdrs < MIN_CDRS:
        raise CdrcapError(f"--cdrs {args.cdrs} is too small to measure recall; use at least {MIN_CDRS}")
    if args.batch_size < 1:
        raise CdrcapError(
            f"--batch-size {args.batch_size} must be >= {ESM_BATCH_SIZE_MIN} "
            f"(Kinesis batches hold {ESM_BATCH_SIZE_MIN}-{ESM_BATCH_SIZE_MAX:,})"
        )
    rules = load_rules(args.rules)
    started = time.perf_counter()
    day = evaluate_loadgen_day(rules, cdrs=args.cdrs, seed=args.seed, batch_size=args.batch_size)
    wall_s = time.perf_counter() - started
    max_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if args.json:
        document = {
            "seed": args.seed,
            "rules_version": rules.version,
            "targets": {"recall": RECALL_TARGET, "precision": PRECISION_TARGET},
            "meets_targets": all(q.meets_targets for q in day.quality),
            "rules": [{**q.to_dict(), "data": SOURCE} for q in day.quality],
            "loadgen_day": day.to_dict(),
            "wall_s": round(wall_s, 1),
            "max_rss_mb": round(max_rss_mb),
        }
        print(json.dumps(document, indent=2))
    else:
        print(render_table([_row(q) for q in day.quality], markdown=args.markdown))
        print(
            f"\n{SOURCE}: {day.cdrs:,} CDRs (seed {args.seed}, default FraudRates) in {day.batches:,} "
            f"batches of <= {args.batch_size}, {day.accepted:,} accepted and {day.rejected:,} rejected by "
            f"the processor. Alerts of every rule: "
            f"{', '.join(f'{k} {v}' for k, v in sorted(day.alerts_by_rule.items())) or 'none'}. "
            f"Rules {rules.version}; {wall_s:,.0f} s wall, "
            f"max RSS {max_rss_mb:,.0f} MB, Python {platform.python_version()} on {platform.machine()}."
        )
    missed = [q.rule_id for q in day.quality if not q.meets_targets]
    if missed:
        print(f"cdrcap fraud-eval: below target for {', '.join(missed)}", file=sys.stderr)
        return EXIT_CHECK_FAILED
    return EXIT_OK
