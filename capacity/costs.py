"""Monthly cost of a configuration, broken down by service (element-wise over numpy arrays).

The load is priced as if the planning rate held all month (a ceiling for a peak-sized plan). Every sink is
priced from the resource use per CDR (capacity/resource_use.py: measured by the run, given in a file, or the
benchmark's defaults): the output stream, DynamoDB, the S3 archive with its lifecycle, the dead-letter queue,
EventBridge alerts, CloudWatch Logs and metrics, KMS for the streams' encryption and retention beyond 24 h.
Not included: data transfer out of the Region, DynamoDB storage (minute items expire within days).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from capacity import quotas
from capacity.quotas import Prices
from capacity.resource_use import DEFAULT as DEFAULT_USE
from capacity.resource_use import ResourceUse

DAYS_PER_MONTH = quotas.HOURS_PER_MONTH / 24.0
STREAMS = 2  # the input and the output stream, both KMS-encrypted with aws/kinesis


@dataclass(frozen=True)
class Retention:
    """How long the pipeline keeps what it writes: infra/pipeline.yaml's parameters (same defaults)."""

    stream_hours: int = 24  # RetentionPeriodHours
    log_days: int = 30  # LogRetentionDays
    archive_transition_days: int = 30  # ArchiveTransitionDays: to Standard-IA
    archive_glacier_days: int = 90  # ArchiveGlacierDays: to Glacier Instant Retrieval
    archive_expiration_days: int = 400  # ArchiveExpirationDays


@dataclass(frozen=True)
class CostInputs:
    """What the cost depends on beyond the configuration itself."""

    rate_rps: float  # CDRs/s
    record_bytes: float  # per CDR
    consumers_reading_bytes: int = 1  # consumers retrieving the data (on-demand GB out)
    use: ResourceUse = DEFAULT_USE
    retention: Retention = field(default_factory=Retention)
    cdrs_per_record: float = 1.0  # > 1: the producer aggregates (KPL) this many CDRs per Kinesis record


def put_payload_units_per_record(record_bytes: float) -> int:
    return max(1, math.ceil(record_bytes / quotas.PUT_PAYLOAD_UNIT_BYTES))


def stream_cost_usd(shards: Any, stream_mode: str, inputs: CostInputs, prices: Prices) -> dict[str, Any]:
    """Kinesis input-stream cost (provisioned: shard-hours + PUT units; on-demand: stream-hour + GB).

    PUT payload units and on-demand billing units are per Kinesis record, rounded up: an aggregated record
    of N CDRs pays ceil(N x bytes / 25 KB) units where N records would pay N."""
    records_per_month = inputs.rate_rps / inputs.cdrs_per_record * quotas.SECONDS_PER_MONTH
    kinesis_record_bytes = inputs.record_bytes * inputs.cdrs_per_record
    if stream_mode == "ON_DEMAND":
        billed_gb = (
            records_per_month
            * math.ceil(kinesis_record_bytes / quotas.ON_DEMAND_BILLING_UNIT_BYTES)
            / 1024**2
        )
        return {
            "kinesis_stream_hours": prices.kds_on_demand_stream_hour_usd * quotas.HOURS_PER_MONTH,
            "kinesis_data_in": billed_gb * prices.kds_on_demand_gb_in_usd,
            "kinesis_data_out": billed_gb * inputs.consumers_reading_bytes * prices.kds_on_demand_gb_out_usd,
        }
    units = records_per_month * put_payload_units_per_record(kinesis_record_bytes)
    return {
        "kinesis_shard_hours": np.asarray(shards) * prices.kds_shard_hour_usd * quotas.HOURS_PER_MONTH,
        "kinesis_put_payload_units": units / 1e6 * prices.kds_put_payload_units_per_million_usd,
    }


def efo_cost_usd(shards: Any, is_efo: Any, inputs: CostInputs, prices: Prices) -> dict[str, Any]:
    """Enhanced fan-out: one consumer (this pipeline) per shard, plus the GB it retrieves."""
    gb_per_month = inputs.rate_rps * inputs.record_bytes * quotas.SECONDS_PER_MONTH / 1024**3
    hours = np.asarray(shards) * prices.kds_efo_consumer_shard_hour_usd * quotas.HOURS_PER_MONTH
    return {
        "kinesis_efo_consumer_shard_hours": np.where(is_efo, hours, 0.0),
        "kinesis_efo_data": np.where(is_efo, gb_per_month * prices.kds_efo_gb_usd, 0.0),
    }


def consumer_cost_usd(
    invocations_per_s: Any, duration_ms: Any, memory_mb: Any, gb_second_usd: Any, prices: Prices
) -> dict[str, Any]:
    """Lambda requests and GB-seconds (duration billed per 1 ms)."""
    invocations = np.asarray(invocations_per_s) * quotas.SECONDS_PER_MONTH
    gb_seconds = invocations * np.ceil(duration_ms) / 1000.0 * np.asarray(memory_mb) / 1024.0
    return {
        "lambda_requests": invocations / 1e6 * prices.lambda_requests_per_million_usd,
        "lambda_duration": gb_seconds * gb_second_usd,
    }


def sink_cost_usd(
    invocations_per_s: Any, input_shards: Any, output_shards: int, inputs: CostInputs, prices: Prices
) -> dict[str, Any]:
    """Everything the function writes, priced from the resource use per CDR and per invocation."""
    use, retention = inputs.use, inputs.retention
    cdrs = inputs.rate_rps * quotas.SECONDS_PER_MONTH
    invocations = np.asarray(invocations_per_s) * quotas.SECONDS_PER_MONTH
    log_gb = invocations * use.log_bytes / 1024**3
    kms_requests = (
        STREAMS
        * quotas.KDS_SSE_CREDENTIALS_PER_STREAM
        * quotas.SECONDS_PER_MONTH
        / quotas.KDS_SSE_KMS_CALL_INTERVAL_S
    )
    extended_hours = 1.0 if retention.stream_hours > 24 else 0.0
    return {
        "kinesis_output_shard_hours": output_shards * prices.kds_shard_hour_usd * quotas.HOURS_PER_MONTH,
        "kinesis_output_put_payload_units": cdrs
        * use.output_put_payload_units
        / 1e6
        * prices.kds_put_payload_units_per_million_usd,
        "kinesis_extended_retention": extended_hours
        * (output_shards + np.asarray(input_shards))
        * prices.kds_extended_retention_shard_hour_usd
        * quotas.HOURS_PER_MONTH,
        "kms_requests": kms_requests / 1e4 * prices.kms_requests_per_10k_usd,
        **dynamodb_on_demand_usd(cdrs, use, prices),
        "s3_puts": invocations * use.s3_puts / 1000.0 * prices.s3_put_per_thousand_usd,
        **archive_storage_usd(invocations * use.s3_puts, cdrs * use.s3_bytes, retention, prices),
        "sqs_dlq": cdrs * use.sqs_billed_requests / 1e6 * prices.sqs_requests_per_million_usd,
        "eventbridge_alerts": cdrs * use.eventbridge_events / 1e6 * prices.eventbridge_events_per_million_usd,
        "cloudwatch_logs": log_gb
        * (
            prices.cloudwatch_logs_gb_ingested_usd
            + prices.cloudwatch_logs_gb_stored_month_usd * retention.log_days / DAYS_PER_MONTH
        ),
        "cloudwatch_metrics": use.custom_metrics * prices.cloudwatch_custom_metric_month_usd,
    }


def dynamodb_on_demand_usd(cdrs_per_month: Any, use: ResourceUse, prices: Prices) -> dict[str, Any]:
    """On-demand write and read request units for a month of CDRs at the measured units per CDR."""
    return {
        "dynamodb_writes": cdrs_per_month
        * use.dynamodb_write_units
        / 1e6
        * prices.ddb_write_request_units_per_million_usd,
        "dynamodb_reads": cdrs_per_month
        * use.dynamodb_read_units
        / 1e6
        * prices.ddb_read_request_units_per_million_usd,
    }


def archive_storage_usd(
    objects_per_month: Any, bytes_per_month: float, retention: Retention, prices: Prices
) -> dict[str, Any]:
    """The archive at steady state under its lifecycle: each month's objects spend `transition` days in
    Standard, then Standard-IA, then Glacier Instant Retrieval until expiry. IA and Glacier IR bill an object
    under 128 KB as 128 KB, so small per-invocation objects cost more there than their bytes."""
    objects = np.asarray(objects_per_month, dtype=float)
    object_bytes = np.where(objects > 0, bytes_per_month / np.maximum(objects, 1e-9), 0.0)
    billed_cold = objects * np.maximum(object_bytes, quotas.S3_IA_MIN_BILLED_OBJECT_BYTES) / 1024**3
    month_gb = bytes_per_month / 1024**3
    standard_months = retention.archive_transition_days / DAYS_PER_MONTH
    ia_months = (retention.archive_glacier_days - retention.archive_transition_days) / DAYS_PER_MONTH
    glacier_months = (retention.archive_expiration_days - retention.archive_glacier_days) / DAYS_PER_MONTH
    return {
        "s3_storage": month_gb * standard_months * prices.s3_standard_gb_month_usd
        + billed_cold * ia_months * prices.s3_standard_ia_gb_month_usd
        + billed_cold * glacier_months * prices.s3_glacier_ir_gb_month_usd,
        "s3_lifecycle_transitions": objects
        / 1000.0
        * (prices.s3_transition_ia_per_thousand_usd + prices.s3_transition_glacier_ir_per_thousand_usd),
    }


def dynamodb_capacity_modes(inputs: CostInputs, headroom: float, prices: Prices) -> dict[str, Any]:
    """On-demand (what the plan prices) against provisioned capacity sized for the peak x headroom at auto
    scaling's target utilisation: provisioned wins at a steady load, on-demand for spiky or idle tables."""
    use = inputs.use
    wcu = inputs.rate_rps * use.dynamodb_write_units * headroom / quotas.DDB_AUTOSCALING_TARGET_UTILISATION
    rcu = inputs.rate_rps * use.dynamodb_read_units * headroom / quotas.DDB_AUTOSCALING_TARGET_UTILISATION
    cdrs = inputs.rate_rps * quotas.SECONDS_PER_MONTH
    on_demand = sum(dynamodb_on_demand_usd(cdrs, use, prices).values())
    provisioned = (
        math.ceil(wcu) * prices.ddb_provisioned_wcu_hour_usd
        + math.ceil(rcu) * prices.ddb_provisioned_rcu_hour_usd
    ) * quotas.HOURS_PER_MONTH
    return {
        "on_demand_usd": round(on_demand, 2),
        "provisioned_usd": round(provisioned, 2),
        "provisioned_wcu": math.ceil(wcu),
        "provisioned_rcu": math.ceil(rcu),
        "cheaper": "provisioned" if provisioned < on_demand else "on_demand",
        "note": (
            f"provisioned sized for {headroom:g}x the rate at "
            f"{quotas.DDB_AUTOSCALING_TARGET_UTILISATION:.0%} target utilisation with auto scaling; "
            "it saves money only while the load stays near the plan's rate"
        ),
    }


def total_usd(breakdown: dict[str, Any]) -> Any:
    return sum(np.asarray(value, dtype=float) for value in breakdown.values())


def pick(breakdown: dict[str, Any], index: int) -> dict[str, float]:
    """The breakdown of one configuration out of an element-wise breakdown, rounded to cents."""
    picked: dict[str, float] = {}
    for name, value in breakdown.items():
        array = np.asarray(value, dtype=float)
        picked[name] = round(float(array if array.ndim == 0 else array[index]), 2)
    return picked
