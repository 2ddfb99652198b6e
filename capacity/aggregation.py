"""What producer-side aggregation (the KPL) does to the input stream: shards and monthly cost with and
without it, for `cdrcap plan`'s details.aggregation.

Small CDRs hit the 1,000 records/s per shard limit long before 1 MiB/s; an aggregating producer sends
CDRs/s / factor Kinesis records, so the bytes limit binds instead and PUT payload units are paid per 25 KB
of aggregate instead of per CDR. Only the input stream changes: the handler still does the same work per
CDR, so the rest of the plan's bill is carried over unchanged.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from capacity import costs, quotas
from capacity.quotas import Prices
from capacity.search import Slo, Workload, shard_bounds

# The KPL's default buffering, and aggregates up to the record limit less room for the partition key (as
# loadgen/kpl.py packs them; capacity does not import loadgen).
KPL_BUFFERED_S = quotas.KPL_RECORD_MAX_BUFFERED_TIME_MS / 1000
KPL_MAX_AGGREGATE_BYTES = quotas.MAX_RECORD_BYTES - quotas.KIB
FIXED_POINT_STEPS = 5


def kpl_cdrs_per_record(workload: Workload, shards: int, buffered_s: float = KPL_BUFFERED_S) -> float:
    """CDRs one KPL aggregate holds at `shards`: what one shard receives in a buffering window, at most
    what fits one record."""
    per_window = workload.rate_rps / max(shards, 1) * buffered_s
    return max(1.0, min(per_window, KPL_MAX_AGGREGATE_BYTES / workload.record_bytes))


def expected_kpl_factor(workload: Workload, slo: Slo, mode: str, buffered_s: float = KPL_BUFFERED_S) -> float:
    """The aggregation factor a KPL producer would reach: fewer shards pack more per aggregate, so iterate
    shards -> factor -> shards from the unaggregated bound (converges in a few steps)."""
    shards = shard_bounds(replace(workload, cdrs_per_record=1.0), slo).minimum(mode)
    factor = 1.0
    for _ in range(FIXED_POINT_STEPS):
        factor = kpl_cdrs_per_record(workload, shards, buffered_s)
        shards = shard_bounds(replace(workload, cdrs_per_record=factor), slo).minimum(mode)
    return factor


STREAM_ITEMS = ("kinesis_shard_hours", "kinesis_put_payload_units")


def _row(
    name: str, workload: Workload, slo: Slo, mode: str, prices: Prices, shards: int | None = None
) -> dict[str, Any]:
    bounds = shard_bounds(workload, slo)
    shards = shards if shards is not None else bounds.minimum(mode)
    inputs = costs.CostInputs(
        workload.rate_rps, workload.record_bytes, cdrs_per_record=workload.cdrs_per_record
    )
    stream = costs.stream_cost_usd(shards, "PROVISIONED", inputs, prices)
    return {
        "aggregation": name,
        "cdrs_per_record": round(workload.cdrs_per_record, 1),
        "kinesis_records_per_s": round(workload.kinesis_records_per_s, 1),
        "shards_by_records": bounds.by_records,
        "shards_by_bytes": bounds.by_bytes,
        "shards": shards,
        "put_payload_units_per_record": costs.put_payload_units_per_record(
            workload.record_bytes * workload.cdrs_per_record
        ),
        "input_stream_usd": round(float(sum(stream[item] for item in STREAM_ITEMS)), 2),
    }


def comparison(workload: Workload, slo: Slo, best: dict[str, Any], prices: Prices) -> dict[str, Any]:
    """Rows for no aggregation, the KPL's expected factor and the plan's own factor (when given or
    measured): shard bounds, input-stream cost and the monthly cost. The row of the plan's own factor
    ("none" without aggregation) is the plan itself; the others are at their minimum shards with the rest
    of the plan's bill carried over (an estimate: the handler's work per CDR is the same, only the input
    stream differs)."""
    mode = str(best["consumer_mode"])
    rest_usd = float(best["monthly_cost_usd"]) - sum(
        float(best["cost_breakdown_usd"].get(item, 0.0)) for item in STREAM_ITEMS
    )
    aggregated = workload.cdrs_per_record > 1.0
    unaggregated = replace(workload, cdrs_per_record=1.0)
    rows = [
        _row("none", unaggregated, slo, mode, prices, shards=None if aggregated else int(best["shards"])),
        _row(
            "kpl",
            replace(workload, cdrs_per_record=expected_kpl_factor(workload, slo, mode)),
            slo,
            mode,
            prices,
        ),
    ]
    if aggregated:
        rows.append(_row("planned", workload, slo, mode, prices, shards=int(best["shards"])))
    for row in rows:
        row["monthly_cost_usd"] = round(rest_usd + row["input_stream_usd"], 2)
    none, with_kpl = rows[0], rows[1]
    sentence = (
        f"KPL aggregation (expected ~{with_kpl['cdrs_per_record']:,.0f} CDRs per record with "
        f"{KPL_BUFFERED_S * 1000:.0f} ms buffering) needs {with_kpl['shards']:,} shards instead of "
        f"{none['shards']:,} and ~{with_kpl['monthly_cost_usd']:,.2f} instead of "
        f"~{none['monthly_cost_usd']:,.2f} USD/month"
    )
    return {
        "planned_cdrs_per_record": workload.cdrs_per_record,
        "rows": rows,
        "sentence": sentence,
        # The event source mapping's BatchSize counts Kinesis records; the plan's batch_size counts CDRs.
        "esm_batch_size_kinesis_records": max(
            1, math.ceil(int(best["batch_size"]) / workload.cdrs_per_record)
        ),
    }
