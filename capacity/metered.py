"""What a run cost, priced two ways with the same price table: metered from what it consumed, and predicted
by the model for the configuration that ran at the rate it ran.

Metered: the invocations and billed durations of the trace, the input PUT payload units of the load
generator's accepted records, and every request the function made, in billed units (the handler's EMF from
its request meter: DynamoDB consumed capacity, PUT payload units, S3 PUTs and bytes, SQS and EventBridge
billed requests), plus the run's shard-hours. Predicted: the analytic model's invocations and service time
for that configuration, and the run's resource use per CDR. Both are per million CDRs; the report shows
them side by side and their difference is a check of the model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from capacity import costs, quotas
from capacity.fit import ServiceTimeModel
from capacity.model import ReadPath, steady_state
from capacity.quotas import Prices
from capacity.resource_use import ResourceUse

# Cost items that accrue per hour whatever the load (prorated to the run's duration when metered).
_HOURLY_ITEMS = frozenset(
    {"kinesis_shard_hours", "kinesis_output_shard_hours", "kinesis_extended_retention", "kms_requests"}
)


@dataclass(frozen=True)
class RunConsumption:
    """What one run window consumed."""

    seconds: float
    cdrs: float  # CDRs the function received (RecordsIn)
    input_put_payload_units: float  # of the records the input stream accepted
    invocations: float
    billed_gb_seconds: float  # sum over invocations of ceil(duration ms) x memory
    input_shards: int
    output_shards: int
    emf: Mapping[str, float]  # EMF sums over the window (pipeline/metering.py names)
    log_bytes: float  # CloudWatch Logs ingestion (the handler's lines plus Lambda's own per invocation)
    custom_metrics: int


def _per_million(breakdown: Mapping[str, Any], cdrs_per_month: float) -> dict[str, float]:
    return {name: float(value) / cdrs_per_month * 1e6 for name, value in breakdown.items()}


def metered_cost(run: RunConsumption, use: ResourceUse, architecture: str, prices: Prices) -> dict[str, Any]:
    """The run's consumption priced, scaled to a month at the run's rate, per million CDRs."""
    month = quotas.SECONDS_PER_MONTH / max(run.seconds, 1e-9)  # the run's window repeated for a month
    emf = run.emf
    per_month = {key: value * month for key, value in emf.items()}
    hourly = run.seconds / 3600.0 * month
    inputs = costs.CostInputs(rate_rps=run.cdrs / run.seconds, record_bytes=0.0, use=use)
    breakdown: dict[str, float] = {
        "kinesis_shard_hours": run.input_shards * prices.kds_shard_hour_usd * hourly,
        "kinesis_put_payload_units": run.input_put_payload_units
        * month
        / 1e6
        * prices.kds_put_payload_units_per_million_usd,
        "lambda_requests": run.invocations * month / 1e6 * prices.lambda_requests_per_million_usd,
        "lambda_duration": run.billed_gb_seconds * month * prices.lambda_gb_second_usd(architecture),
        "kinesis_output_shard_hours": run.output_shards * prices.kds_shard_hour_usd * hourly,
        "kinesis_output_put_payload_units": per_month.get("AwsKinesisPutPayloadUnits", 0.0)
        / 1e6
        * prices.kds_put_payload_units_per_million_usd,
        "dynamodb_writes": per_month.get("AwsDynamoDBWriteUnits", 0.0)
        / 1e6
        * prices.ddb_write_request_units_per_million_usd,
        "dynamodb_reads": per_month.get("AwsDynamoDBReadUnits", 0.0)
        / 1e6
        * prices.ddb_read_request_units_per_million_usd,
        "s3_puts": per_month.get("AwsS3PutRequests", 0.0) / 1000.0 * prices.s3_put_per_thousand_usd,
        "sqs_dlq": per_month.get("AwsSqsBilledRequests", 0.0) / 1e6 * prices.sqs_requests_per_million_usd,
        "eventbridge_alerts": per_month.get("AwsEventBridgeBilledEvents", 0.0)
        / 1e6
        * prices.eventbridge_events_per_million_usd,
    }
    storage = costs.archive_storage_usd(
        per_month.get("AwsS3PutRequests", 0.0),
        per_month.get("AwsS3PutBytes", 0.0),
        inputs.retention,
        prices,
    )
    breakdown.update({name: float(value) for name, value in storage.items()})
    fixed = costs.sink_cost_usd(0.0, run.input_shards, run.output_shards, inputs, prices)
    breakdown["kinesis_extended_retention"] = float(fixed["kinesis_extended_retention"])
    breakdown["kms_requests"] = float(fixed["kms_requests"])
    log_gb = run.log_bytes * month / 1024**3
    retention = inputs.retention
    breakdown["cloudwatch_logs"] = log_gb * (
        prices.cloudwatch_logs_gb_ingested_usd
        + prices.cloudwatch_logs_gb_stored_month_usd * retention.log_days / costs.DAYS_PER_MONTH
    )
    breakdown["cloudwatch_metrics"] = run.custom_metrics * prices.cloudwatch_custom_metric_month_usd
    return _summarise(breakdown, run.cdrs * month)


def predicted_cost(
    config: Mapping[str, Any],
    service: ServiceTimeModel,
    rate_rps: float,
    record_bytes: float,
    use: ResourceUse,
    read: ReadPath,
    output_shards: int,
    prices: Prices,
) -> dict[str, Any]:
    """The model's monthly cost of `config` (what ran) at `rate_rps` (the rate it ran at), per 1M CDRs."""
    shards, pf = int(config["shards"]), int(config["parallelization_factor"])
    lane_rate = rate_rps / (shards * pf)
    service_ms = (service.a_ms, service.b_ms_per_record, service.c_ms_per_kib)
    mean = steady_state(
        lane_rate, record_bytes, config["batch_size"], config["batching_window_s"], service_ms, read
    )
    invocations_per_s = shards * pf * lane_rate / float(np.asarray(mean.batch_records))
    architecture = str(config.get("architecture") or "x86_64")
    inputs = costs.CostInputs(rate_rps=rate_rps, record_bytes=record_bytes, use=use)
    breakdown = {
        **costs.stream_cost_usd(shards, "PROVISIONED", inputs, prices),
        **costs.consumer_cost_usd(
            invocations_per_s,
            float(np.asarray(mean.service_s)) * 1000.0,
            int(config["memory_mb"]),
            prices.lambda_gb_second_usd(architecture),
            prices,
        ),
        **costs.sink_cost_usd(invocations_per_s, shards, output_shards, inputs, prices),
    }
    return _summarise(breakdown, rate_rps * quotas.SECONDS_PER_MONTH)


def _summarise(breakdown: Mapping[str, Any], cdrs_per_month: float) -> dict[str, Any]:
    per_million = _per_million(breakdown, max(cdrs_per_month, 1e-9))
    return {
        "per_million_cdrs_usd": round(sum(per_million.values()), 4),
        "breakdown_per_million_cdrs_usd": {name: round(value, 4) for name, value in per_million.items()},
        "load_dependent_per_million_cdrs_usd": round(
            sum(value for name, value in per_million.items() if name not in _HOURLY_ITEMS), 4
        ),
    }


def agreement(metered: Mapping[str, Any], predicted: Mapping[str, Any]) -> float | None:
    """|predicted - metered| / metered of the cost per million CDRs."""
    measured_usd = float(metered["per_million_cdrs_usd"])
    if measured_usd <= 0:
        return None
    return round(abs(float(predicted["per_million_cdrs_usd"]) - measured_usd) / measured_usd, 4)
