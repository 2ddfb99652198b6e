"""Monthly cost of a configuration, broken down by service (element-wise over numpy arrays).

The load is priced as if the planning rate held all month (a ceiling for a peak-sized plan). Not included:
the output stream cdr-out (sized like the input for the records it re-emits), data transfer, storage of the
archive and retention beyond 24 h.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from capacity import quotas
from capacity.quotas import Prices

EMF_BYTES_PER_INVOCATION = 700  # one EMF JSON line per invocation (measured line size of the handler)
CUSTOM_METRICS = 10  # EMF metrics published by the handler (RecordsIn/Ok/Rejected, reasons, timings)


@dataclass(frozen=True)
class CostInputs:
    """What the cost depends on beyond the configuration itself."""

    rate_rps: float
    record_bytes: float
    consumers_reading_bytes: int = 1  # consumers retrieving the data (on-demand GB out)
    dynamodb_writes_per_invocation: float = 1.0
    s3_puts_per_invocation: float = 1.0
    reject_ratio: float = 0.0


def put_payload_units_per_record(record_bytes: float) -> int:
    return max(1, math.ceil(record_bytes / quotas.PUT_PAYLOAD_UNIT_BYTES))


def stream_cost_usd(shards: Any, stream_mode: str, inputs: CostInputs, prices: Prices) -> dict[str, Any]:
    """Kinesis input-stream cost (provisioned: shard-hours + PUT units; on-demand: stream-hour + GB)."""
    records_per_month = inputs.rate_rps * quotas.SECONDS_PER_MONTH
    if stream_mode == "ON_DEMAND":
        billed_gb = (
            records_per_month * math.ceil(inputs.record_bytes / quotas.ON_DEMAND_BILLING_UNIT_BYTES) / 1024**2
        )
        return {
            "kinesis_stream_hours": prices.kds_on_demand_stream_hour_usd * quotas.HOURS_PER_MONTH,
            "kinesis_data_in": billed_gb * prices.kds_on_demand_gb_in_usd,
            "kinesis_data_out": billed_gb * inputs.consumers_reading_bytes * prices.kds_on_demand_gb_out_usd,
        }
    units = records_per_month * put_payload_units_per_record(inputs.record_bytes)
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
    invocations_per_s: Any,
    duration_ms: Any,
    memory_mb: Any,
    gb_second_usd: Any,
    inputs: CostInputs,
    prices: Prices,
) -> dict[str, Any]:
    """Lambda requests and GB-seconds (duration billed per 1 ms), and what each invocation writes."""
    invocations = np.asarray(invocations_per_s) * quotas.SECONDS_PER_MONTH
    gb_seconds = invocations * np.ceil(duration_ms) / 1000.0 * np.asarray(memory_mb) / 1024.0
    rejects = inputs.rate_rps * inputs.reject_ratio * quotas.SECONDS_PER_MONTH
    log_gb = invocations * EMF_BYTES_PER_INVOCATION / 1024**3
    return {
        "lambda_requests": invocations / 1e6 * prices.lambda_requests_per_million_usd,
        "lambda_duration": gb_seconds * gb_second_usd,
        "dynamodb_writes": invocations
        * inputs.dynamodb_writes_per_invocation
        / 1e6
        * prices.ddb_write_request_units_per_million_usd,
        "s3_puts": invocations * inputs.s3_puts_per_invocation / 1000.0 * prices.s3_put_per_thousand_usd,
        # Rejects go to the DLQ with SendMessageBatch, as many per request as the API takes.
        "sqs_dlq": rejects
        / quotas.SQS_SEND_MESSAGE_BATCH_MAX_ENTRIES
        / 1e6
        * prices.sqs_requests_per_million_usd,
        "cloudwatch": log_gb * prices.cloudwatch_logs_gb_ingested_usd
        + CUSTOM_METRICS * prices.cloudwatch_custom_metric_month_usd,
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
