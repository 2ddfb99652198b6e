"""What a CDR asks of every service: the planner's defaults (capacity/resource_use.py DEFAULT), measured.

The real handler with its AWS stores against the embedded emulator (MiniStack on loopback, started here and
stopped at the end), on loadgen's realistic batches of 500 records, fraud rules off and on. Every client the
stores build is metered (pipeline/metering.py): DynamoDB consumed units as the service reports them, Kinesis
PUT payload units, S3 PUTs and bytes, SQS and EventBridge billed requests. The handler's EMF line per batch is
what a run measures too, so its bytes are the handler's log bytes per invocation.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from capacity.resource_use import EMF_PER_INVOCATION_SOURCES, EMF_SOURCES, emf_totals, from_emf_totals
from pipeline.aws_stores import aws_fraud_engine, aws_stores
from pipeline.config import load_config
from pipeline.handler import metrics_line
from pipeline.metering import METER
from pipeline.processor import BatchProcessor
from tests.benchmarks.emulator_setup import emulator_pipeline, fraud_env
from tests.benchmarks.workload import realistic_batches
from tests.support.pipeline_events import NOW_MS

BATCHES = 6  # of 500 records each
DEADLINE_S = 180.0


def measure(batches: list[dict[str, Any]], env: dict[str, str], label: str) -> dict[str, Any]:
    """Run the batches through the handler's processor; the per-CDR use, from the EMF lines it prints."""
    config = load_config(env)
    processor = BatchProcessor(config, aws_stores(config), aws_fraud_engine(config))
    METER.take()  # what setting up the stores asked is not the batches' use
    lines: list[str] = []
    started = time.perf_counter()
    for batch in batches:
        if time.perf_counter() - started > DEADLINE_S:
            break
        outcome = processor.process(batch, now_ms=NOW_MS)
        assert not outcome.failed_sequence_numbers, "the emulator run should not defer records"
        lines.append(metrics_line(outcome, 0.0, config.metrics_namespace, METER.take()).decode())
    totals, documents, size, names = emf_totals(lines)
    use = from_emf_totals(
        totals,
        cdrs=totals.get("RecordsIn", 0.0),
        invocations=documents,
        log_bytes=size,
        custom_metrics=names,
        source=f"bench_resource_use ({label})",
    )
    assert use is not None, "the meter reported nothing"
    return use.to_dict()


def run() -> dict[str, Any]:
    batches = realistic_batches(BATCHES)
    with emulator_pipeline() as (session, resources, _):
        fraud_off = measure(batches, resources.env, "batch 500, fraud off")
        fraud_on = measure(
            batches,
            fraud_env(resources.env, resources, session, "transact"),
            "batch 500, fraud on, transact",
        )
    keys = [*EMF_SOURCES, *EMF_PER_INVOCATION_SOURCES, "log_bytes"]
    metrics = [
        {
            "name": f"{label}: {key}",
            "value": round(use[key], 4),
            "unit": "per CDR" if key in EMF_SOURCES else "",
        }
        for label, use in (("fraud off", fraud_off), ("fraud on", fraud_on))
        for key in keys
    ]
    return {
        "title": "Resource use per CDR (the planner's defaults), real handler against the emulator",
        "metrics": metrics,
        "fraud_off": fraud_off,
        "fraud_on": fraud_on,
        "notes": "per CDR unless the key is per invocation (s3_puts, log_bytes, "
        "dynamodb_hottest_item_writes); capacity/resource_use.py DEFAULT records the fraud-off numbers",
    }


if __name__ == "__main__":
    print(orjson.dumps(run(), option=orjson.OPT_INDENT_2).decode())
