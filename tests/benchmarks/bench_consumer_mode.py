"""Consumer mode measured: e2e latency p50/p99, shared polling vs enhanced fan-out, on the local stack.

Same load in every scenario (2 shards, 200 records/s of 200 B, batch size 500, no window, the trivial
handler tests/benchmarks/latency_handler.py that only logs each record's latency), with 1 and with 4 other
polling consumers on the stream. Beside each measurement: the model's prediction with AWS's read path
(ReadPath.shared(consumers) / ReadPath.efo(), analytic) and with the local stack's read path (simulated,
with the poller's read-ahead: GetRecords every consumers x 200 ms, or MiniStack's EFO push loop, which
checks a shard for new records every 200 ms), both with the service time fitted on the run's own trace.

`python -m tests.benchmarks.bench_consumer_mode [--duration-s 40]`; bounded: 4 x (duration + drain).
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from capacity.fit import fit_service_time
from capacity.model import ReadPath, steady_state
from capacity.quotas import SHARD_GET_RECORDS_CALLS_PER_S
from capacity.validate import predict_steps
from infra.local.emulator import free_port
from infra.local.esm.poller import READ_THROTTLE_METRIC
from infra.local.stack import LocalStack, LocalStackConfig
from tests.benchmarks.bench_local_stack import RECORD, TEMPLATE, produce
from tests.benchmarks.latency_handler import OUT_ENV, read_latencies

LONG = True  # minutes of wall time: `make bench-long`, not `make bench`

SHARDS = 2
RATE_RPS = 200.0
BATCH_SIZE = 500
WARMUP_S = 5.0  # records put while the runtime subscribes/polls for the first time are left out
DRAIN_DEADLINE_S = 30.0
SCENARIOS = (("shared", 1), ("efo", 1), ("shared", 4), ("efo", 4))
# MiniStack 1.5.33's SubscribeToShard loop looks for new records every 0.2 s (an emulator fact, not AWS's).
MINISTACK_EFO_PUSH_INTERVAL_S = 0.2


def local_read_path(mode: str, consumers: int) -> ReadPath:
    if mode == "efo":
        return ReadPath(
            MINISTACK_EFO_PUSH_INTERVAL_S, MINISTACK_EFO_PUSH_INTERVAL_S, 0.0, "local-efo", prefetch=True
        )
    return ReadPath.local_runtime(poll_busy_s=consumers / SHARD_GET_RECORDS_CALLS_PER_S)


def aws_read_path(mode: str, consumers: int) -> ReadPath:
    return ReadPath.efo() if mode == "efo" else ReadPath.shared(consumers)


def read_throttles(metrics_path: Path) -> int:
    """The pipeline poller's refused GetRecords calls (metrics.csv, AWS/Kinesis's metric name)."""
    with open(metrics_path, newline="") as handle:
        rows = csv.DictReader(handle)
        return int(sum(float(r["value"]) for r in rows if r["metric"] == READ_THROTTLE_METRIC))


def measure(
    mode: str, other_consumers: int, duration_s: float, work: Path, other_poll_interval_s: float | None
) -> dict[str, Any]:
    """One scenario on a fresh local stack: load, drain, per-record latencies, the fitted service time."""
    out_dir = work / "out"
    out_dir.mkdir(parents=True)
    stack = LocalStack(work / "state")
    info = stack.up(
        LocalStackConfig(
            shards=SHARDS,
            port=free_port(),
            batch_size=BATCH_SIZE,
            template_path=str(TEMPLATE),
            handler="tests.benchmarks.latency_handler.handler",
            handler_env={OUT_ENV: str(out_dir)},
            consumer_mode=mode,
            other_consumers=other_consumers,
            other_consumer_poll_interval_s=other_poll_interval_s,
        )
    )
    try:
        start_epoch_s = time.time() + 1.0
        records = int(RATE_RPS * duration_s)
        _, accepted = produce(
            info.kinesis_endpoint_url, info.input_stream_name, 0, RATE_RPS, records, duration_s, start_epoch_s
        )
        deadline = time.monotonic() + DRAIN_DEADLINE_S
        while len(read_latencies(out_dir)) < accepted and time.monotonic() < deadline:
            time.sleep(0.5)
        with open(info.trace_path, newline="") as handle:
            trace = pd.DataFrame(list(csv.DictReader(handle)))
    finally:
        stack.down()  # the runtime flushes its metrics as it stops
    throttles = read_throttles(Path(info.metrics_path))
    pairs = read_latencies(out_dir)
    kept = [latency for arrival_s, latency in pairs if arrival_s >= start_epoch_s + WARMUP_S]
    for column in ("duration_ms", "batch_records", "batch_bytes"):
        trace[column] = trace[column].astype(float)
    return {
        "accepted": accepted,
        "delivered": len(pairs),
        "latencies_ms": kept,
        "service": fit_service_time(trace, use_bytes=False),
        "read_throttles": throttles,
    }


def predict(mode: str, consumers: int, service: Any, duration_s: float) -> dict[str, float]:
    service_ms = (service.a_ms, service.b_ms_per_record, 0.0)
    lane_rps = RATE_RPS / SHARDS
    aws = steady_state(lane_rps, len(RECORD), BATCH_SIZE, 0.0, service_ms, aws_read_path(mode, consumers))
    config = {"shards": SHARDS, "parallelization_factor": 1, "batch_size": BATCH_SIZE, "batching_window_s": 0}
    local = predict_steps(
        service,
        config,
        [{"step": 0, "rate_rps": RATE_RPS, "duration_s": duration_s}],
        record_bytes=len(RECORD),
        read=local_read_path(mode, consumers),
    )[0]
    return {
        "aws_p50_ms": float(aws.e2e_p50_s) * 1000.0,
        "aws_p99_ms": float(aws.e2e_p99_s) * 1000.0,
        "local_p99_ms": float(local["predicted_e2e_p99_ms"]),
    }


def run(
    duration_s: float = 40.0,
    other_poll_interval_s: float | None = None,
    scenarios: tuple[tuple[str, int], ...] = SCENARIOS,
) -> dict[str, Any]:
    """For `make bench`: the four scenarios, one fresh stack each, and the table for docs/capacity.md.

    `other_poll_interval_s`: how often each other consumer polls a shard (default: its fair share)."""
    rows = []
    for mode, others in scenarios:
        with tempfile.TemporaryDirectory() as work:
            measured = measure(mode, others, duration_s, Path(work), other_poll_interval_s)
        latencies = np.asarray(measured["latencies_ms"])
        consumers = 1 + others
        service = measured["service"]
        rows.append(
            {
                "mode": mode,
                "other_consumers": others,
                "accepted": measured["accepted"],
                "delivered": measured["delivered"],
                "read_throttles": measured["read_throttles"],
                "p50_ms": round(float(np.percentile(latencies, 50)), 1),
                "p99_ms": round(float(np.percentile(latencies, 99)), 1),
                "service_ms": f"{service.a_ms:.1f} + {service.b_ms_per_record:.3f}/record",
                **{
                    key: round(value, 1)
                    for key, value in predict(mode, consumers, service, duration_s).items()
                },
            }
        )
    return {
        "title": "Consumer mode: e2e latency, shared polling vs enhanced fan-out (local stack)",
        "metrics": [
            {
                "name": f"{row['mode']}, {row['other_consumers']} other consumers, e2e {q}",
                "value": row[key],
                "unit": "ms",
            }
            for row in rows
            for q, key in (("p50", "p50_ms"), ("p99", "p99_ms"))
        ],
        "rows": rows,
        "notes": markdown_table(rows, duration_s, other_poll_interval_s),
    }


def markdown_table(rows: list[dict[str, Any]], duration_s: float, other_poll_interval_s: float | None) -> str:
    cadence = (
        "each other consumer polling every shard at its fair share, every (N + 1) x 200 ms"
        if other_poll_interval_s is None
        else f"each other consumer polling every shard every {other_poll_interval_s:g} s"
    )
    lines = [
        f"{SHARDS} shards, {RATE_RPS:.0f} records/s of {len(RECORD)} B for {duration_s:.0f} s (first "
        f"{WARMUP_S:.0f} s left out), batch size {BATCH_SIZE}, no window, trivial handler, {cadence}.",
        "",
        "| mode | other polling consumers | measured p50 ms | measured p99 ms | model p50 ms (AWS read path) "
        "| model p99 ms (AWS read path) | model p99 ms (local read path) | delivered / accepted | "
        "pipeline GetRecords throttled | fitted service time ms |",
        "|---|---:|---:|---:|---:|---:|---:|---|---:|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['mode']} | {row['other_consumers']} | {row['p50_ms']:,.0f} | {row['p99_ms']:,.0f} | "
            f"{row['aws_p50_ms']:,.0f} | {row['aws_p99_ms']:,.0f} | {row['local_p99_ms']:,.0f} | "
            f"{row['delivered']:,} / {row['accepted']:,} | {row['read_throttles']:,} | {row['service_ms']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration-s", type=float, default=40.0)
    parser.add_argument(
        "--other-poll-interval-s", type=float, help="default: each other consumer's fair share"
    )
    parser.add_argument("--shared-only", action="store_true", help="leave out the EFO scenarios")
    args = parser.parse_args()
    scenarios = tuple(s for s in SCENARIOS if s[0] == "shared") if args.shared_only else SCENARIOS
    result = run(args.duration_s, args.other_poll_interval_s, scenarios)
    print(json.dumps(result["rows"], indent=1))
    print(result["notes"])


if __name__ == "__main__":
    main()
