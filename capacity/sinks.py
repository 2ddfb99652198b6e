"""Every service the pipeline writes to, checked against its quota at the headroom rate.

One row per quota (`details.quota_checks`): `{service, quota, required, limit, ok, source}`, plus the remedy
when it fails. The requirements come from the workload's resource use per CDR (capacity/resource_use.py) and
the recommended configuration; the limits are AWS defaults from capacity/quotas.py (many are adjustable).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from capacity import quotas
from capacity.search import SearchSpace, Slo, Workload, hot_partition_write_units_per_s, output_shards


@dataclass(frozen=True)
class QuotaCheck:
    service: str
    quota: str
    required: float
    limit: float | None  # None: no published limit (SQS standard queues)
    source: str
    remedy: str = ""

    @property
    def ok(self) -> bool:
        return self.limit is None or self.required <= self.limit

    def to_dict(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "service": self.service,
            "quota": self.quota,
            "required": round(self.required, 2),
            "limit": self.limit,
            "ok": self.ok,
            "source": self.source,
        }
        if not self.ok:
            row["remedy"] = self.remedy
            row["over_by"] = round(self.required / self.limit, 2) if self.limit else None
        return row


def _hot_partition_check(design: str, write_units_per_s: float) -> QuotaCheck:
    """The DynamoDB partition the design writes hardest: an aggregate item, or (ledger) a shard's keys."""
    if design == "ledger":
        return QuotaCheck(
            "dynamodb",
            "write units/s on the hottest shard's claims and delta keys (ledger, one partition)",
            write_units_per_s,
            quotas.DDB_PARTITION_WCU_PER_S,
            quotas.DDB_PARTITIONS_URL,
            "more input shards (each shard writes its own claims and delta keys)",
        )
    return QuotaCheck(
        "dynamodb",
        "write units/s on the hottest aggregate item (one partition)",
        write_units_per_s,
        quotas.DDB_PARTITION_WCU_PER_S,
        quotas.DDB_PARTITIONS_URL,
        "write the hot aggregate items once per batch, or shard them (a suffix per lane summed on read); "
        "larger batches lower the invocation rate",
    )


def quota_checks(
    config: dict[str, Any], invocations_per_s: float, workload: Workload, slo: Slo, space: SearchSpace
) -> list[QuotaCheck]:
    """The quota checks of one configuration (`config`: the recommendation's shards, PF, output_shards)."""
    peak = workload.rate_rps * slo.headroom_factor
    use, keys = workload.use, workload.keys
    shards, pf = int(config["shards"]), int(config["parallelization_factor"])
    out_shards = int(config.get("output_shards") or output_shards(workload, slo))
    hot_in, hot_out = keys.max_shard_share(shards), keys.max_shard_share(out_shards)
    hot_lanes = invocations_per_s * slo.headroom_factor * keys.max_shard_share(shards)
    hot_item = float(hot_partition_write_units_per_s(invocations_per_s, hot_in, workload))
    hot_item *= slo.headroom_factor
    kds = quotas.KDS_QUOTAS_URL
    reshard = "more shards (UpdateShardCount), or a partition key that spreads the hot key"
    return [
        QuotaCheck(
            "kinesis", "input: records/s on the hottest shard", peak / workload.cdrs_per_record * hot_in,
            quotas.SHARD_WRITE_RECORDS_PER_S, kds, reshard,
        ),
        QuotaCheck(
            "kinesis", "input: bytes/s on the hottest shard", peak * workload.record_bytes * hot_in,
            quotas.SHARD_WRITE_BYTES_PER_S, kds, reshard,
        ),
        QuotaCheck(
            "kinesis", "output: records/s on the hottest shard", peak * use.output_records * hot_out,
            quotas.SHARD_WRITE_RECORDS_PER_S, kds, "more output shards (OutputShardCount)",
        ),
        QuotaCheck(
            "kinesis", "output: bytes/s on the hottest shard", peak * use.output_bytes * hot_out,
            quotas.SHARD_WRITE_BYTES_PER_S, kds, "more output shards (OutputShardCount)",
        ),
        QuotaCheck(
            "kinesis", "shards per account (input + output)", shards + out_shards,
            quotas.DEFAULT_SHARDS_PER_ACCOUNT, kds, "a shard quota increase (Service Quotas)",
        ),
        QuotaCheck(
            "lambda", "concurrent executions (shards x PF)", shards * pf, space.concurrency_limit,
            quotas.LAMBDA_QUOTAS_URL, "a concurrency quota increase, or a lower parallelization factor",
        ),
        QuotaCheck(
            "dynamodb", "table write units/s (on-demand table quota)", peak * use.dynamodb_write_units,
            quotas.DDB_TABLE_WRITE_UNITS_PER_S, quotas.DDB_ON_DEMAND_MAX_URL,
            "a table throughput quota increase (adjustable), provisioned capacity with auto scaling, "
            "and fewer write units per CDR (docs/pipeline.md, exactly-once designs)",
        ),
        QuotaCheck(
            "dynamodb", "table read units/s (on-demand table quota)", peak * use.dynamodb_read_units,
            quotas.DDB_TABLE_READ_UNITS_PER_S, quotas.DDB_ON_DEMAND_MAX_URL,
            "a table throughput quota increase (adjustable)",
        ),
        _hot_partition_check(workload.exactly_once, hot_item),
        QuotaCheck(
            "s3", "archive PUT/s per prefix (cdr/<hour>/<shard>/)", hot_lanes * use.s3_puts,
            quotas.S3_PUTS_PER_S_PER_PREFIX, quotas.S3_PERFORMANCE_URL,
            "a wider key prefix (S3 scales per prefix), or larger batches",
        ),
        QuotaCheck(
            "eventbridge", "PutEvents requests/s (account, us-east-1)", peak * use.eventbridge_events,
            quotas.EVENTBRIDGE_PUT_EVENTS_PER_S, quotas.EVENTBRIDGE_QUOTAS_URL,
            "a PutEvents quota increase; alerts are already one per (rule, subscriber, window)",
        ),
        QuotaCheck(
            "sqs", "dead-letter SendMessageBatch requests/s (standard queue)",
            peak * use.sqs_billed_requests, quotas.SQS_STANDARD_REQUESTS_PER_S, quotas.SQS_THROUGHPUT_URL,
        ),
    ]  # fmt: skip


def failed_sentence(checks: list[QuotaCheck]) -> str:
    """One sentence naming every failed quota, by how much, and what to do."""
    return "; ".join(
        f"{c.service} {c.quota}: needs {c.required:,.0f}, the default quota is {c.limit:,.0f} "
        f"(x{c.required / c.limit:,.1f}); remedy: {c.remedy}"
        for c in checks
        if not c.ok and c.limit
    )
