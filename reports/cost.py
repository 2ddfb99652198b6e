"""The cost side of the report: each priced item named and grouped by AWS service, the plan's monthly cost,
and the metered vs predicted cost per million CDRs of the configuration that ran (summary `run_cost`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reports.summary import Summary

# Cost item (capacity/costs.py, capacity/metered.py) -> (service, what). Unknown items keep their key, under
# "other", so a new item shows up in the report before anyone names it here.
ITEMS: dict[str, tuple[str, str]] = {
    "kinesis_shard_hours": ("Kinesis input", "shard-hours"),
    "kinesis_put_payload_units": ("Kinesis input", "PUT payload units"),
    "kinesis_put_units": ("Kinesis input", "PUT payload units"),
    "kinesis_on_demand": ("Kinesis input", "on-demand stream"),
    "kinesis_extended_retention": ("Kinesis input", "retention beyond 24 h"),
    "kinesis_efo_consumer_shard_hours": ("Kinesis input", "enhanced fan-out consumer-shard-hours"),
    "kinesis_efo_data": ("Kinesis input", "enhanced fan-out data"),
    "kinesis_output_shard_hours": ("Kinesis output", "shard-hours"),
    "kinesis_output_put_payload_units": ("Kinesis output", "PUT payload units"),
    "lambda_requests": ("Lambda", "requests"),
    "lambda_duration": ("Lambda", "duration (GB-s)"),
    "lambda_gb_s": ("Lambda", "duration (GB-s)"),
    "dynamodb_writes": ("DynamoDB", "write request units"),
    "dynamodb_reads": ("DynamoDB", "read request units"),
    "s3_puts": ("S3", "PUT requests"),
    "s3_storage": ("S3", "storage"),
    "s3_lifecycle_transitions": ("S3", "lifecycle transitions"),
    "sqs_dlq": ("SQS", "dead-letter requests"),
    "eventbridge_alerts": ("EventBridge", "alert events"),
    "cloudwatch_logs": ("CloudWatch", "logs ingestion and storage"),
    "cloudwatch_metrics": ("CloudWatch", "custom metrics"),
    "kms_requests": ("KMS", "stream encryption requests"),
}
# Service order in the stacked bars and their colours: Okabe-Ito (colour-blind safe) plus grey and wine.
SERVICES: tuple[tuple[str, str], ...] = (
    ("DynamoDB", "#0072B2"),
    ("Kinesis input", "#E69F00"),
    ("Kinesis output", "#56B4E9"),
    ("Lambda", "#009E73"),
    ("S3", "#D55E00"),
    ("CloudWatch", "#CC79A7"),
    ("EventBridge", "#F0E442"),
    ("SQS", "#000000"),
    ("KMS", "#999999"),
    ("other", "#882255"),
)


def service_of(item: str) -> str:
    return ITEMS.get(item, ("other", item))[0]


def item_label(item: str) -> str:
    service, what = ITEMS.get(item, ("other", item.replace("_", " ")))
    return f"{service}: {what}"


def by_service(breakdown: Mapping[str, float]) -> dict[str, float]:
    """Sum a breakdown per service, in SERVICES order, services that cost nothing left out."""
    totals: dict[str, float] = {}
    for item, usd in breakdown.items():
        totals[service_of(item)] = totals.get(service_of(item), 0.0) + float(usd)
    return {name: totals[name] for name, _ in SERVICES if totals.get(name, 0.0) > 0}


def run_cost(summary: Summary) -> dict[str, Any] | None:
    """The metered vs predicted cost of the configuration that ran, or None (older runs, no EMF)."""
    cost = summary.get("run_cost")
    if not isinstance(cost, dict):
        return None
    if not isinstance(cost.get("metered"), dict) or not isinstance(cost.get("predicted"), dict):
        return None
    return cost


def breakdown_per_million(side: Mapping[str, Any]) -> dict[str, float]:
    values = side.get("breakdown_per_million_cdrs_usd") or {}
    return {str(k): float(v) for k, v in values.items() if isinstance(v, int | float)}


def plan_per_million(summary: Summary) -> dict[str, float]:
    """The plan's monthly breakdown per million CDRs at the design rate (the cost summary's own divisor)."""
    rec = summary["recommendation"]
    total = float(rec["monthly_cost_usd"])
    per_million = summary["cost_per_million_cdrs_usd"]
    if total <= 0:
        return {}
    return {item: float(usd) / total * per_million for item, usd in rec["cost_breakdown_usd"].items()}


def agreement_sentence(summary: Summary) -> str | None:
    cost = run_cost(summary)
    if cost is None:
        return None
    metered = float(cost["metered"]["per_million_cdrs_usd"])
    predicted = float(cost["predicted"]["per_million_cdrs_usd"])
    config = cost.get("configuration") or {}
    ran = ", ".join(
        f"{label} {config[key]:,g}"
        for key, label in (
            ("shards", "shards"),
            ("output_shards", "output shards"),
            ("rate_rps", "records/s"),
        )
        if isinstance(config.get(key), int | float)
    )
    difference = cost.get("relative_difference")
    differs = f", {difference * 100:.1f}% apart" if isinstance(difference, int | float) else ""
    return (
        f"The configuration that ran ({ran}): metered ${metered:,.4f} vs predicted ${predicted:,.4f} per "
        f"million CDRs{differs}. Metered prices what the run consumed (the handler's request meter, the "
        "trace's billed durations, the load's accepted records); predicted is the model for the same "
        "configuration and rate."
    )
