"""What a run cost, priced two ways with the same price table: metered from what it consumed, and predicted
by the model for the configuration that ran at the rate it ran.

Metered: the invocations and billed durations of the trace, the input PUT payload units of the load
generator's accepted records, the run's shard-hours, and every request the function made in billed units
(the handler's EMF from its request meter, summed over the window into the run's resource use per CDR and
per invocation, priced by the planner's own sink pricing at the measured invocation rate). Predicted: the
analytic model's invocations and service time for that configuration, with the same resource use. Both
are per million CDRs; the report shows them side by side and their difference is a check of the model.
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


def _per_million(breakdown: Mapping[str, Any], cdrs_per_month: float) -> dict[str, float]:
    return {name: float(value) / cdrs_per_month * 1e6 for name, value in breakdown.items()}


def metered_cost(run: RunConsumption, use: ResourceUse, architecture: str, prices: Prices) -> dict[str, Any]:
    """The run's consumption priced, scaled to a month at the run's rate, per million CDRs. `use` is the
    run's own measured resource use (cdrcap/costing.py), so the sinks are priced by `costs.sink_cost_usd`
    at the invocation rate the trace measured, not the model's."""
    per_month = quotas.SECONDS_PER_MONTH / max(run.seconds, 1e-9)  # the run's window repeated for a month
    inputs = costs.CostInputs(rate_rps=run.cdrs / run.seconds, record_bytes=0.0, use=use)
    breakdown: dict[str, Any] = {
        "kinesis_shard_hours": run.input_shards * prices.kds_shard_hour_usd * quotas.HOURS_PER_MONTH,
        "kinesis_put_payload_units": run.input_put_payload_units
        * per_month
        / 1e6
        * prices.kds_put_payload_units_per_million_usd,
        "lambda_requests": run.invocations * per_month / 1e6 * prices.lambda_requests_per_million_usd,
        "lambda_duration": run.billed_gb_seconds * per_month * prices.lambda_gb_second_usd(architecture),
        **costs.sink_cost_usd(
            run.invocations / run.seconds, run.input_shards, run.output_shards, inputs, prices
        ),
    }
    return _summarise(breakdown, run.cdrs * per_month)


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
