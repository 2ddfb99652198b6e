"""The estimated AWS cost of a load run, printed before any run against a non-local target.

Prices come from loadgen/quotas_fallback.py (sourced, dated) until capacity/quotas.py is on main.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from loadgen.quotas_fallback import (
    ON_DEMAND_INGEST_PER_GB_USD,
    ON_DEMAND_RECORD_ROUNDING_BYTES,
    ON_DEMAND_STREAM_HOUR_USD,
    PUT_PAYLOAD_UNIT_BYTES,
    PUT_PAYLOAD_UNITS_PER_MILLION_USD,
    SHARD_HOUR_USD,
)


@dataclass(frozen=True)
class CostEstimate:
    records: float
    record_bytes: float
    duration_s: float
    provisioned_usd: float
    on_demand_usd: float

    def describe(self, shards: int) -> str:
        return (
            f"Estimated AWS cost of this run ({self.records:,.0f} records of ~{self.record_bytes:.0f} B over "
            f"{self.duration_s:.0f} s, Kinesis only, us-east-1 list prices 2024-11): "
            f"provisioned with {shards} shard(s) ${self.provisioned_usd:.4f}, "
            f"on-demand ${self.on_demand_usd:.4f}. "
            f"Lambda, DynamoDB, S3 and data transfer are not included."
        )


def estimate_run_cost(records: float, record_bytes: float, duration_s: float, shards: int) -> CostEstimate:
    hours = duration_s / 3600
    units_per_record = math.ceil(max(record_bytes, 1) / PUT_PAYLOAD_UNIT_BYTES)
    provisioned = (
        shards * hours * SHARD_HOUR_USD + records * units_per_record / 1e6 * PUT_PAYLOAD_UNITS_PER_MILLION_USD
    )
    billed_bytes = (
        math.ceil(max(record_bytes, 1) / ON_DEMAND_RECORD_ROUNDING_BYTES) * ON_DEMAND_RECORD_ROUNDING_BYTES
    )
    on_demand = (
        hours * ON_DEMAND_STREAM_HOUR_USD + records * billed_bytes / 1024**3 * ON_DEMAND_INGEST_PER_GB_USD
    )
    return CostEstimate(records, record_bytes, duration_s, provisioned, on_demand)
