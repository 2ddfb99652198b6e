"""What a plan says besides the configuration: why this many shards, the alternatives (on-demand stream,
the other consumer mode) and the CloudFormation parameters to deploy it.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from capacity import costs, quotas
from capacity.quotas import Prices
from capacity.search import Grid, ShardBounds, Slo, Workload

# The configuration part of a recommendation (contracts.md), in display order.
CONFIGURATION_KEYS = (
    "shards",
    "parallelization_factor",
    "batch_size",
    "batching_window_s",
    "memory_mb",
    "architecture",
    "stream_mode",
    "consumer_mode",
    "output_shards",
    "monthly_cost_usd",
)

CLOUDFORMATION_PARAMETERS = {
    "shards": "ShardCount",
    "parallelization_factor": "ParallelizationFactor",
    "batch_size": "BatchSize",
    "batching_window_s": "MaximumBatchingWindowInSeconds",
    "memory_mb": "MemorySize",
    "architecture": "Architecture",
    "stream_mode": "StreamMode",
    "output_shards": "OutputShardCount",
}


def on_demand_alternative(best: dict[str, Any], workload: Workload, prices: Prices) -> dict[str, Any]:
    inputs = costs.CostInputs(
        rate_rps=workload.rate_rps,
        record_bytes=workload.record_bytes,
        consumers_reading_bytes=1 + workload.other_consumers,
        cdrs_per_record=workload.cdrs_per_record,
    )
    stream = {
        name: round(float(value), 2)
        for name, value in costs.stream_cost_usd(0, "ON_DEMAND", inputs, prices).items()
    }
    provisioned_stream = sum(
        value
        for name, value in best["cost_breakdown_usd"].items()
        if name.startswith("kinesis_shard") or name.startswith("kinesis_put")
    )
    monthly = round(best["monthly_cost_usd"] - provisioned_stream + sum(stream.values()), 2)
    return {
        "stream_mode": "ON_DEMAND",
        "monthly_cost_usd": monthly,
        "stream_cost_breakdown_usd": stream,
        "cheaper_than_provisioned": monthly < best["monthly_cost_usd"],
    }


def _mib(size_bytes: int) -> str:
    return f"{size_bytes / quotas.MIB:g} MiB"


def binding_sentence(
    best: dict[str, Any], bounds: ShardBounds, workload: Workload, slo: Slo, feasible: bool = True
) -> str:
    """Why this many shards, in one sentence."""
    shards = best["shards"]
    peak = workload.rate_rps * slo.headroom_factor
    head = (
        f"{shards} shards for {slo.headroom_factor:g}x {_amount(workload.rate_rps)} records/s"
        f" of {workload.record_bytes:,.0f} B"
    )
    if not bounds.hot_key_fits:
        return (
            f"{head}: NOT enough - one partition key carries {workload.keys.hottest_key_share:.1%} of the "
            f"traffic ({peak * workload.keys.hottest_key_share:,.0f} records/s), above one shard's "
            f"{quotas.SHARD_WRITE_RECORDS_PER_S:,} records/s; no shard count helps, spread (salt) the key."
        )
    limits = {
        f"the write limit of {quotas.SHARD_WRITE_RECORDS_PER_S:,} records/s per shard": bounds.by_records,
        f"the write limit of {_mib(quotas.SHARD_WRITE_BYTES_PER_S)}/s per shard": bounds.by_bytes,
    }
    if best["consumer_mode"] == "shared":
        read_limit = f"{_mib(quotas.SHARD_READ_BYTES_PER_S)}/s per shard"
        limits[f"the shared read limit of {read_limit} with {1 + workload.other_consumers} consumers"] = (
            bounds.by_shared_read
        )
    name, needed = max(limits.items(), key=lambda item: item[1])
    others = ", ".join(
        f"{n:,} by {label.split('limit of ')[1]}" for label, n in limits.items() if label != name
    )
    skew = "" if workload.keys.description == "uniform" else f" (skew-aware: {workload.keys.description})"
    if shards <= needed or not feasible:
        return f"{head}: {name} needs {needed:,}{skew}; {others}."
    return (
        f"{head}: the stream limits need only {needed:,} ({name}){skew}, but the SLO "
        f"(e2e p99 <= {slo.e2e_p99_ms:,.0f} ms, stable at {slo.headroom_factor:g}x) is met most cheaply "
        f"with {shards:,} shards x PF {best['parallelization_factor']}."
    )


def cloudformation_parameters(recommendation: dict[str, Any]) -> list[dict[str, str]]:
    """The template parameters (contracts.md names) for a recommendation, as CloudFormation expects them."""
    return [
        {"ParameterKey": parameter, "ParameterValue": str(recommendation[key])}
        for key, parameter in CLOUDFORMATION_PARAMETERS.items()
    ]


def provisioned_concurrency_parameter(details: dict[str, Any]) -> list[dict[str, str]]:
    """ProvisionedConcurrency for infra/pipeline.yaml: shards x PF when the plan found that it pays
    (details.provisioned_concurrency), else 0 (none; the alias still carries the mapping)."""
    comparison = details.get("provisioned_concurrency") or {}
    value = int(comparison.get("provisioned_concurrency", 0)) if comparison.get("pays") else 0
    return [{"ParameterKey": "ProvisionedConcurrency", "ParameterValue": str(value)}]


def scaler_parameters(scaling: dict[str, Any]) -> list[dict[str, str]]:
    """The scaler stack's parameters (infra/scaler.yaml) for the reactive policy `details.scaling_policies`
    simulated: its thresholds as ScalerPolicyJson, and the IteratorAge alarm at the same threshold, so what
    was simulated is what the deployed scaler decides."""
    reactive = next((p for p in scaling["policies"] if "scaler" in p), None)
    if reactive is None:
        return []
    settings = reactive["scaler"]
    return [
        {"ParameterKey": "ScalerPolicyJson", "ParameterValue": json.dumps(settings, sort_keys=True)},
        {"ParameterKey": "IteratorAgeScaleOutMs", "ParameterValue": f"{settings['iterator_age_high_ms']:g}"},
    ]


def cost_curve(grids: list[Grid]) -> list[dict[str, Any]]:
    """Cheapest configuration per shard count (feasible if any is), for the report's cost-vs-shards plot."""
    best: dict[int, tuple[bool, float]] = {}
    for grid in grids:
        for shards in np.unique(grid.shards):
            at_count = grid.shards == shards
            feasible = at_count & grid.feasible
            found = bool(feasible.any())
            usd = float(grid.cost_usd[feasible if found else at_count].min())
            current = best.get(int(shards))
            if current is None or (found, -usd) > (current[0], -current[1]):
                best[int(shards)] = (found, usd)
    return [
        {"shards": shards, "monthly_cost_usd": round(usd, 2), "feasible": found}
        for shards, (found, usd) in sorted(best.items())
    ]


def _amount(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 else f"{value:g}"
