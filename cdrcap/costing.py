"""A run's resource use per CDR and its cost, measured: the handler's EMF sums over the run window (its
request meter's billed units), from the local handler log or from CloudWatch, turned into the planner's
resource use and into the metered vs predicted cost per million CDRs of the configuration that ran.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from capacity import metered, quotas
from capacity.fit import ServiceTimeModel
from capacity.model import ReadPath
from capacity.resource_use import DEFAULT, ResourceUse, emf_totals, from_emf_totals
from pipeline.metering import METRICS as METER_METRICS

# The handler's EMF metrics a run sums (besides the meter's): CDRs in, item writes, the hottest item.
HANDLER_METRICS = ("RecordsIn", "DynamoWrites", "DynamoWriteUnits", "DynamoHottestItemWrites")
EMF_METRICS = (*HANDLER_METRICS, *METER_METRICS)


@dataclass(frozen=True)
class EmfWindow:
    totals: dict[str, float]
    documents: int  # EMF lines (one per invocation)
    log_bytes: float | None  # every line the handler printed (None when the logs were not read)
    custom_metrics: int
    source: str


def emf_from_handler_log(path: Path, start_epoch_s: float) -> EmfWindow | None:
    """The handler log's EMF sums from the window on, with the bytes of every line it printed there."""
    if not path.is_file():
        return None
    with path.open(encoding="utf-8", errors="replace") as lines:
        totals, documents, size, names = emf_totals(lines, start_ms=start_epoch_s * 1000.0)
    if not documents:
        return None
    return EmfWindow(totals, documents, float(size), names, f"handler EMF in {path.name}")


def emf_from_metrics(metrics: pd.DataFrame, invocations: float) -> EmfWindow | None:
    """From CloudWatch: the Sum of each EMF metric over the window (the reader's long-format rows)."""
    if metrics.empty or invocations <= 0:
        return None
    rows = metrics[metrics["metric"].isin(EMF_METRICS)]
    if rows.empty:
        return None
    totals = {str(name): float(value) for name, value in rows.groupby("metric")["value"].sum().items()}
    return EmfWindow(totals, int(invocations), None, DEFAULT.custom_metrics, "handler EMF in CloudWatch")


def measured_use(window: EmfWindow | None, run_label: str) -> ResourceUse:
    """The run's resource use, or the benchmark defaults (saying so) when the run measured none."""
    if window is None:
        return DEFAULT
    use = from_emf_totals(
        window.totals,
        cdrs=window.totals.get("RecordsIn", 0.0),
        invocations=window.documents,
        log_bytes=window.log_bytes,
        custom_metrics=window.custom_metrics,
        source=f"measured by {run_label} ({window.source}, {window.documents} invocations, "
        f"{window.totals.get('RecordsIn', 0.0):,.0f} CDRs)",
    )
    return use or DEFAULT


def run_costs(
    *,
    window: EmfWindow | None,
    invocations: pd.DataFrame,
    load_summary: dict[str, Any],
    config_that_ran: dict[str, Any],
    output_shards_ran: int,
    service: ServiceTimeModel,
    use: ResourceUse,
    read: ReadPath,
    record_bytes: float,
    seconds: float,
    prices: quotas.Prices = quotas.US_EAST_1,
) -> dict[str, Any] | None:
    """Metered and predicted cost per million CDRs of the configuration that ran; None without EMF data."""
    if window is None or invocations.empty or seconds <= 0:
        return None
    cdrs = window.totals.get("RecordsIn", 0.0)
    if cdrs <= 0 or "AwsDynamoDBWriteUnits" not in window.totals:
        return None  # no CDR, or a handler without the request meter: nothing measured to price
    memory_mb = float(config_that_ran["memory_mb"])
    durations = invocations["duration_ms"].to_numpy(dtype=float)
    weights = invocations["invocations"].to_numpy(dtype=float) if "invocations" in invocations else None
    billed_ms = np.ceil(durations.clip(min=0))  # Lambda bills duration rounded up to the ms
    count = float(weights.sum()) if weights is not None else float(len(invocations))
    gb_s = float((billed_ms * (weights if weights is not None else 1.0)).sum()) / 1000.0 * memory_mb / 1024.0
    totals = load_summary.get("totals", {})
    accepted = float(totals.get("accepted", cdrs))
    accepted_bytes = float(totals.get("accepted_bytes", accepted * record_bytes))
    units_per_record = max(1, math.ceil(accepted_bytes / max(accepted, 1.0) / quotas.PUT_PAYLOAD_UNIT_BYTES))
    architecture = str(config_that_ran.get("architecture") or "x86_64")
    consumption = metered.RunConsumption(
        seconds=seconds,
        cdrs=cdrs,
        input_put_payload_units=accepted * units_per_record,
        invocations=count,
        billed_gb_seconds=gb_s,
        input_shards=int(config_that_ran["shards"]),
        output_shards=output_shards_ran,
    )
    measured_cost = metered.metered_cost(consumption, use, architecture, prices)
    config = {**config_that_ran, "architecture": architecture}
    predicted = metered.predicted_cost(
        config, service, cdrs / seconds, record_bytes, use, read, output_shards_ran, prices
    )
    return {
        "configuration": {
            key: config.get(key)
            for key in ("shards", "parallelization_factor", "batch_size", "batching_window_s", "memory_mb")
        }
        | {"output_shards": output_shards_ran, "rate_rps": round(cdrs / seconds, 2)},
        "metered": measured_cost,
        "predicted": predicted,
        "relative_difference": metered.agreement(measured_cost, predicted),
        "how": "metered: trace invocations and billed durations, the load's accepted records, the handler's "
        "request meter (EMF) over the run window, shard-hours of the window; predicted: the analytic model "
        "for the configuration that ran at the run's rate, with the run's resource use per CDR",
    }
