"""The estimated AWS cost of a load run, printed before any run against a non-local target.

Priced by capacity.costs with capacity.quotas' dated list prices (us-east-1 by default): the monthly
cost of the run's mean rate, scaled to the run's duration (shard-hours and PUT units scale linearly).
"""

from __future__ import annotations

from dataclasses import dataclass

from capacity import quotas
from capacity.costs import CostInputs, stream_cost_usd
from capacity.quotas import Prices


@dataclass(frozen=True)
class CostEstimate:
    records: float
    record_bytes: float
    duration_s: float
    provisioned_usd: float
    on_demand_usd: float
    prices_as_of: str

    def describe(self, shards: int) -> str:
        return (
            f"Estimated AWS cost of this run ({self.records:,.0f} records of ~{self.record_bytes:.0f} B over "
            f"{self.duration_s:.0f} s, Kinesis input stream only, list prices of {self.prices_as_of}): "
            f"provisioned with {shards} shard(s) ${self.provisioned_usd:.4f}, "
            f"on-demand ${self.on_demand_usd:.4f}. "
            f"Lambda, DynamoDB, S3 and data transfer are not included."
        )


def estimate_run_cost(
    records: float, record_bytes: float, duration_s: float, shards: int, prices: Prices | None = None
) -> CostEstimate:
    prices = prices or quotas.US_EAST_1
    inputs = CostInputs(rate_rps=records / duration_s, record_bytes=record_bytes)
    share_of_month = duration_s / quotas.SECONDS_PER_MONTH

    def run_usd(stream_mode: str) -> float:
        monthly = stream_cost_usd(shards, stream_mode, inputs, prices)
        # On-demand "data out" is what consumers read, not what this run writes.
        monthly.pop("kinesis_data_out", None)
        return float(sum(float(v) for v in monthly.values())) * share_of_month

    return CostEstimate(
        records, record_bytes, duration_s, run_usd("PROVISIONED"), run_usd("ON_DEMAND"), quotas.AS_OF
    )
