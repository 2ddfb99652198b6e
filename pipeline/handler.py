"""The Lambda entry point: configuration and clients built once per cold start, then one batch per call."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from pipeline.config import PipelineConfig, load_config
from pipeline.metering import METER
from pipeline.observability import JsonLogger, emf_line
from pipeline.processor import BatchOutcome, BatchProcessor
from pipeline.stores import Stores

if TYPE_CHECKING:
    from pipeline.avro_cdr import SchemaRegistry
    from pipeline.fraud.engine import FraudEngine

_processor: BatchProcessor | None = None
_logger: JsonLogger | None = None


def configure(
    config: PipelineConfig | None = None,
    stores: Stores | None = None,
    fraud: FraudEngine | None = None,
    schemas: SchemaRegistry | None = None,
) -> BatchProcessor:
    """Build (or replace, for tests and benchmarks) the processor the handler uses.

    With AWS stores (no `stores` given), the fraud rules run when an alert bus is configured; their rules
    file and token key are validated here, at cold start; Avro records' schemas come from the Glue Schema
    Registry (its client is built by the first Avro record).
    """
    global _processor, _logger
    config = config or load_config()
    if stores is None:
        from pipeline.aws_stores import aws_fraud_engine, aws_stores  # boto3 only when AWS is used
        from pipeline.glue_registry import GlueSchemaRegistry

        stores = aws_stores(config)
        fraud = aws_fraud_engine(config)
        schemas = schemas or GlueSchemaRegistry()
    _processor = BatchProcessor(config, stores, fraud, schemas)
    _logger = JsonLogger(config.log_level)
    return _processor


def metrics_line(
    outcome: BatchOutcome,
    processing_ms: float,
    namespace: str,
    aws_use: dict[str, float] | None = None,
    shard_id: str = "",
) -> bytes:
    """The batch's EMF line; `aws_use`: what it asked of AWS in billed units (pipeline/metering.py);
    `shard_id`: the batch's shard, a property (logged, not a metric: no custom-metric cost) that lets a
    staging run's log reader place each invocation on its shard as the local trace does."""
    counts: dict[str, int | float] = {
        "RecordsIn": outcome.records_in,
        "RecordsOk": len(outcome.latencies_ms),
        "RecordsRejected": sum(outcome.rejected.values()),
        "RecordsReplayed": outcome.replayed,
        "RecordsDeferred": outcome.deferred,
        "ProcessingMs": round(processing_ms, 3),
        "DynamoWrites": outcome.dynamo_writes,
        "DynamoWriteRequests": outcome.dynamo_write_requests,
        "DynamoWriteUnits": outcome.dynamo_write_units,
        "DynamoHottestItemWrites": outcome.dynamo_hottest_item_writes,
        "FraudAlerts": outcome.fraud_alerts,
    }
    counts.update({name: round(value, 3) for name, value in (aws_use or {}).items()})
    counts.update({f"RecordsRejected_{reason}": n for reason, n in sorted(outcome.rejected.items())})
    counts.update({f"FraudAlerts_{rule}": n for rule, n in sorted(outcome.fraud_alerts_by_rule.items())})
    properties = {"ShardId": shard_id} if shard_id else None
    return emf_line(namespace, counts, outcome.latencies_ms, int(time.time() * 1000), properties)


def batch_shard(event: dict[str, Any]) -> str:
    """The shard of a Kinesis event's batch (one ESM batch holds one shard's records): the eventID's
    `shardId-...` before the colon, or "" for an event without one."""
    records = event.get("Records") or ()
    return str(records[0].get("eventID", "")).split(":", 1)[0] if records else ""


def handler(event: dict[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
    processor = _processor or configure()
    assert _logger is not None
    started = time.perf_counter()
    outcome = processor.process(event)
    processing_ms = (time.perf_counter() - started) * 1000
    namespace = processor.config.metrics_namespace
    line = metrics_line(outcome, processing_ms, namespace, METER.take(), batch_shard(event))
    print(line.decode(), flush=True)
    level = "WARNING" if outcome.failed_sequence_numbers or outcome.rejected else "INFO"
    _logger.log(
        level,
        "batch processed",
        request_id=getattr(context, "aws_request_id", None),
        records_in=outcome.records_in,
        applied=outcome.applied,
        replayed=outcome.replayed,
        rejected=dict(outcome.rejected),
        deferred=outcome.deferred,
        failed_items=len(outcome.failed_sequence_numbers),
        processing_ms=round(processing_ms, 3),
    )
    for notice in outcome.notices:
        _logger.log("WARNING", "input file notice", notice=notice)
    return outcome.response()
