"""CPU cost of the fraud engine with in-memory stores: CDRs per CPU second on 500-record batches.

`python -m tests.benchmarks.bench_fraud` prints the result as JSON. The state-store round trips of the
DynamoDB implementation are not in this number (they are I/O: see docs/fraud.md, Cost).
"""

from __future__ import annotations

import json
import time
from typing import Any

from cdrcap.fraud_loadgen_eval import CanonicalDay, canonical_day
from pipeline.fraud.alerts import InMemoryAlertSink
from pipeline.fraud.engine import FraudEngine
from pipeline.fraud.rules import load_rules
from pipeline.fraud.state import InMemoryStateStore
from pipeline.fraud.tokens import SubscriberTokenizer

DAY_CDRS = 100_000
BATCH_RECORDS = 500
REPEATS = 3
TARGET_CDRS_PER_CPU_S = 20_000  # fraud must not more than ~halve the handler's 50k records/s CPU budget


def _one_pass(day: CanonicalDay) -> tuple[float, int]:
    cdrs = day.cdrs
    state = InMemoryStateStore()
    engine = FraudEngine(
        load_rules(),
        state,
        InMemoryAlertSink(),
        SubscriberTokenizer(b"bench-key-0123456789abcdef"),
        home_region=day.home_region,
    )
    started = time.process_time()
    for first in range(0, len(cdrs), BATCH_RECORDS):
        batch = cdrs[first : first + BATCH_RECORDS]
        engine.evaluate(
            batch,
            f"b{first}",
            shard_id="shardId-000000000000",
            sequence_numbers=[str(first + i) for i in range(len(batch))],
            partition_keys=[cdr.a_number for cdr in batch],
        )
    return time.process_time() - started, state.writes


def run() -> dict[str, Any]:
    day = canonical_day(DAY_CDRS, seed=1)
    cdrs = day.cdrs
    best_cpu_s, writes = min(_one_pass(day) for _ in range(REPEATS))
    cdrs_per_cpu_s = len(cdrs) / best_cpu_s
    return {
        "title": "Fraud engine CPU (in-memory stores)",
        "metrics": [
            {
                "name": "CDRs per CPU second",
                "value": cdrs_per_cpu_s,
                "unit": "CDR/s",
                "target": f">= {TARGET_CDRS_PER_CPU_S:,}",
                "met": cdrs_per_cpu_s >= TARGET_CDRS_PER_CPU_S,
            },
            {"name": "state writes per CDR", "value": writes / len(cdrs), "unit": "writes"},
        ],
        "notes": f"{len(cdrs):,} CDRs of the load generator's day (seed 1, defects rejected by the "
        f"validator) in batches of {BATCH_RECORDS}, best of {REPEATS} passes.",
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
