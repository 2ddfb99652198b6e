"""Payload format (JSON, CSV, Avro) x producer aggregation (none, KPL) as a sizing lever: bytes per CDR,
the handler's decode cost and the producer's buffering for each, and the plan of every pair
(`cdrcap plan --record-format/--aggregation`, details.payload_formats).

The per-format numbers are measured by tests/benchmarks/bench_payload_formats.py (DEFAULT_COSTS, dated);
a number the user or a run measured (record bytes, service time) is kept for the format it was measured on
and scaled to the others by the benchmark's ratios.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Final

from capacity import aggregation, cold_starts, costs, quotas
from capacity.cold_starts import ColdStartTimes
from capacity.errors import CapacityError
from capacity.fit import ServiceTimeModel
from capacity.planner import Plan, plan
from capacity.quotas import Prices
from capacity.search import LONGEST_PRODUCER_WAIT_MS, SearchSpace, Slo, Workload, shard_bounds

RECORD_FORMATS: Final = ("json", "csv", "avro")
AGGREGATIONS: Final = ("none", "kpl", "auto")
PAIR_AGGREGATIONS: Final = ("none", "kpl")
DEFAULT_MAX_BUFFERED_MS: Final = float(quotas.KPL_RECORD_MAX_BUFFERED_TIME_MS)


@dataclass(frozen=True)
class FormatCost:
    bytes_per_cdr: float  # one v2 CDR's Kinesis payload, not aggregated
    decode_us_per_cdr: float  # handler CPU to turn one payload into its wire fields


@dataclass(frozen=True)
class PayloadCosts:
    """What each format costs per CDR, what KPL aggregation adds, and where the numbers came from."""

    formats: Mapping[str, FormatCost]
    kpl_overhead_bytes_per_cdr: float  # a CDR's sub-record framing and key-table entry in an aggregate
    kpl_deaggregate_us_per_cdr: float  # handler CPU to take one CDR out of an aggregate
    kpl_pack_us_per_cdr: float  # producer CPU to pack one CDR into an aggregate (loadgen/kpl.py)
    source: str

    def describe(self) -> dict[str, Any]:
        return {
            "formats": {
                name: {"bytes_per_cdr": cost.bytes_per_cdr, "decode_us_per_cdr": cost.decode_us_per_cdr}
                for name, cost in self.formats.items()
            },
            "kpl_overhead_bytes_per_cdr": self.kpl_overhead_bytes_per_cdr,
            "kpl_deaggregate_us_per_cdr": self.kpl_deaggregate_us_per_cdr,
            "kpl_pack_us_per_cdr": self.kpl_pack_us_per_cdr,
            "source": self.source,
        }


# Measured by `make bench` (tests/benchmarks/bench_payload_formats.py) on BENCH_DATE: 20,000 clean v2 CDRs
# from loadgen's synthesizer (100,000 subscribers, per-subscriber partition keys), Avro as the load generator
# writes it (pipeline/schemas/cdr-v2.avsc in Glue Schema Registry framing, header counted) and the handler
# decodes it, KPL aggregates packed per shard over 39 shards from 100 ms buffers at 50,000 CDR/s
# (loadgen/kpl.py); CPU best of 3 passes on the machine docs/benchmarks.md names.
BENCH_DATE: Final = "2026-12-03"
BENCH: Final = "tests/benchmarks/bench_payload_formats.py"
DEFAULT_COSTS: Final = PayloadCosts(
    formats=MappingProxyType(
        {
            "json": FormatCost(bytes_per_cdr=541.2, decode_us_per_cdr=3.36),
            "csv": FormatCost(bytes_per_cdr=212.3, decode_us_per_cdr=6.48),
            "avro": FormatCost(bytes_per_cdr=224.1, decode_us_per_cdr=6.38),
        }
    ),
    kpl_overhead_bytes_per_cdr=15.5,
    kpl_deaggregate_us_per_cdr=4.19,
    kpl_pack_us_per_cdr=6.75,
    source=f"{BENCH} on {BENCH_DATE}",
)


def dominant_format(record_formats: Mapping[str, float]) -> str:
    """The payload format most CDRs of a load's mix are sent in ({"json_v2": 0.7, "csv-v1": 0.3} -> json);
    json when none of the mix is a native format."""
    shares: dict[str, float] = {}
    for name, share in record_formats.items():
        family = str(name).replace("-", "_").split("_")[0]
        if family in RECORD_FORMATS:
            shares[family] = shares.get(family, 0.0) + float(share)
    return max(shares, key=lambda family: shares[family]) if shares else "json"


@dataclass(frozen=True)
class MeasuredOn:
    """The payload a number was measured on: its format, and whether the CDRs were KPL-aggregated."""

    record_format: str = "json"
    aggregated: bool = False


@dataclass(frozen=True)
class PayloadRequest:
    """What `cdrcap plan` was asked: a format (None: not given), an aggregation, and what the workload's
    record bytes (None: not measured, the format's benchmark bytes are used) and service time were
    measured on."""

    record_format: str | None = None
    aggregation: str = "none"
    max_buffered_ms: float = DEFAULT_MAX_BUFFERED_MS
    cdrs_per_record: float | None = None  # a given or measured KPL factor (else the expected one)
    bytes_measured_on: MeasuredOn | None = None
    service_measured_on: MeasuredOn = field(default_factory=MeasuredOn)

    def check(self) -> None:
        """Names the bad value and the choices (the CLI maps CapacityError to exit 2)."""
        if self.record_format is not None and self.record_format not in RECORD_FORMATS:
            raise CapacityError(
                f"record format {self.record_format!r} unknown; use one of {', '.join(RECORD_FORMATS)}"
            )
        if self.aggregation not in AGGREGATIONS:
            raise CapacityError(
                f"aggregation {self.aggregation!r} unknown; use one of {', '.join(AGGREGATIONS)}"
            )
        if not 0 < self.max_buffered_ms <= LONGEST_PRODUCER_WAIT_MS:
            raise CapacityError(
                f"max buffered time {self.max_buffered_ms:g} ms must be within (0, "
                f"{LONGEST_PRODUCER_WAIT_MS:g}] (the KPL's default is {DEFAULT_MAX_BUFFERED_MS:g})"
            )
        if self.aggregation == "none" and (self.cdrs_per_record or 1.0) > 1.0:
            raise CapacityError(
                f"{self.cdrs_per_record:g} CDRs per record with aggregation 'none': drop --cdrs-per-record "
                "or plan --aggregation kpl"
            )


@dataclass(frozen=True)
class Variant:
    """One (format, aggregation): the service time and workload the planner sees for it."""

    record_format: str
    aggregation: str
    service: ServiceTimeModel
    workload: Workload
    payload_bytes_per_cdr: float
    decode_us_per_cdr: float


def variant(
    service: ServiceTimeModel,
    workload: Workload,
    slo: Slo,
    space: SearchSpace,
    pair: tuple[str, str],
    request: PayloadRequest,
    payload_costs: PayloadCosts = DEFAULT_COSTS,
) -> Variant:
    """The workload and service time of format `pair[0]` with aggregation `pair[1]` ("none" or "kpl")."""
    record_format, how = pair
    formats = payload_costs.formats
    overhead = payload_costs.kpl_overhead_bytes_per_cdr
    measured = request.bytes_measured_on
    if measured is None:
        payload_bytes = formats[record_format].bytes_per_cdr
    else:  # the measured bytes, without the KPL framing they carried, scaled to this format
        own = workload.record_bytes - (overhead if measured.aggregated else 0.0)
        payload_bytes = (
            own * formats[record_format].bytes_per_cdr / formats[measured.record_format].bytes_per_cdr
        )
    kpl = how == "kpl"
    deaggregate_us = payload_costs.kpl_deaggregate_us_per_cdr
    on = request.service_measured_on
    decode_us = formats[record_format].decode_us_per_cdr + (deaggregate_us if kpl else 0.0)
    measured_decode_us = formats[on.record_format].decode_us_per_cdr + (
        deaggregate_us if on.aggregated else 0.0
    )
    adjusted = replace(
        service, b_ms_per_record=max(service.b_ms_per_record + (decode_us - measured_decode_us) / 1000.0, 0.0)
    )
    shaped = replace(
        workload,
        record_bytes=min(payload_bytes + (overhead if kpl else 0.0), float(quotas.MAX_RECORD_BYTES)),
        cdrs_per_record=1.0,
        producer_wait_ms=request.max_buffered_ms if kpl else 0.0,
    )
    if kpl:
        factor = request.cdrs_per_record or min(
            aggregation.expected_kpl_factor(shaped, slo, mode, request.max_buffered_ms / 1000.0)
            for mode in space.consumer_modes
        )
        shaped = replace(shaped, cdrs_per_record=factor)
    return Variant(record_format, how, adjusted, shaped, payload_bytes, decode_us)


def _row(chosen: Variant, result: Plan, slo: Slo, prices: Prices) -> dict[str, Any]:
    workload, rec = chosen.workload, result.recommendation
    bounds = shard_bounds(workload, slo)
    stream = costs.stream_cost_usd(
        int(rec["shards"]),
        "PROVISIONED",
        costs.CostInputs(workload.rate_rps, workload.record_bytes, cdrs_per_record=workload.cdrs_per_record),
        prices,
    )
    return {
        "record_format": chosen.record_format,
        "aggregation": chosen.aggregation,
        "bytes_per_cdr": round(workload.record_bytes, 1),
        "cdrs_per_record": round(workload.cdrs_per_record, 1),
        "kinesis_records_per_s": round(workload.kinesis_records_per_s, 1),
        "shards_by_records": bounds.by_records,
        "shards_by_bytes": bounds.by_bytes,
        "shards": int(rec["shards"]),
        "put_payload_units_per_record": costs.put_payload_units_per_record(
            workload.record_bytes * workload.cdrs_per_record
        ),
        "input_stream_usd": round(float(sum(stream[item] for item in aggregation.STREAM_ITEMS)), 2),
        "monthly_cost_usd": float(rec["monthly_cost_usd"]),
        "e2e_p99_ms": rec["predicted"]["e2e_latency_p99_ms"],
        "producer_wait_ms": workload.producer_wait_ms,
        "decode_us_per_cdr": round(chosen.decode_us_per_cdr, 2),
        "slo_met": bool(result.details["slo_met"]),
        "feasible": result.feasible,
    }


def _candidates(rows: list[dict[str, Any]], request: PayloadRequest) -> list[dict[str, Any]]:
    """The rows the request may pick from: its format (json when not given, any with auto) and its
    aggregation (either with auto)."""
    auto = request.aggregation == "auto"
    record_format = request.record_format or (None if auto else "json")
    return [
        row
        for row in rows
        if (record_format is None or row["record_format"] == record_format)
        and (auto or row["aggregation"] == request.aggregation)
    ]


def _name(row: dict[str, Any]) -> str:
    return f"{row['record_format']} x {row['aggregation']}"


def _sentence(chosen: dict[str, Any], rows: list[dict[str, Any]], request: PayloadRequest, slo: Slo) -> str:
    head = (
        f"{_name(chosen)}: {chosen['shards']:,} shards ({chosen['bytes_per_cdr']:,.0f} B per CDR, "
        f"{chosen['cdrs_per_record']:,.0f} CDRs per record), {chosen['monthly_cost_usd']:,.2f} USD/month, "
        f"e2e p99 {chosen['e2e_p99_ms']} ms"
    )
    meeting = sorted((r for r in rows if r["slo_met"]), key=lambda r: r["monthly_cost_usd"])
    if request.aggregation != "auto":
        best = meeting[0] if meeting else None
        tail = (
            f"; the cheapest meeting the SLO is {_name(best)} at {best['monthly_cost_usd']:,.2f} USD/month "
            "(--aggregation auto picks it)"
            if best is not None and best is not chosen
            else ""
        )
        return f"as asked, {head}{tail}"
    scope = (
        f"the {request.record_format} pairs"
        if request.record_format
        else f"the {len(rows)} format x aggregation pairs"
    )
    if not chosen["slo_met"]:
        return f"auto: none of {scope} meets e2e p99 <= {slo.e2e_p99_ms:,.0f} ms; shown the cheapest, {head}"
    others = [r for r in meeting if r is not chosen and r in _candidates(rows, request)]
    nxt = (
        f"; next {_name(others[0])} at {others[0]['monthly_cost_usd']:,.2f} "
        f"(+{others[0]['monthly_cost_usd'] - chosen['monthly_cost_usd']:,.2f})"
        if others
        else ""
    )
    plain = next(r for r in rows if r["record_format"] == "json" and r["aggregation"] == "none")
    return (
        f"auto chose {head}: the cheapest of {scope} meeting e2e p99 <= {slo.e2e_p99_ms:,.0f} ms (the "
        f"producer's {request.max_buffered_ms:g} ms buffering included){nxt}; JSON without aggregation: "
        f"{plain['shards']:,} shards, {plain['monthly_cost_usd']:,.2f} USD/month"
    )


def plan_payload(
    service: ServiceTimeModel,
    workload: Workload,
    slo: Slo,
    space: SearchSpace,
    prices: Prices,
    request: PayloadRequest,
    payload_costs: PayloadCosts = DEFAULT_COSTS,
    *,
    seed: int = 0,
    cold: ColdStartTimes = cold_starts.BENCH_DEFAULT,
) -> Plan:
    """Plan every (format, aggregation) pair, pick the asked one (or with `auto` the cheapest meeting the
    SLO), and return its full plan with details.payload_formats: the table and the sentence saying why."""
    request.check()
    variants = [
        variant(service, workload, slo, space, (fmt, how), request, payload_costs)
        for fmt in RECORD_FORMATS
        for how in PAIR_AGGREGATIONS
    ]
    rows = []
    for each in variants:
        result = plan(
            each.service, each.workload, slo, space, prices, seed=seed, include_plus_50pct=False, cold=cold
        )
        rows.append(_row(each, result, slo, prices))
    candidates = _candidates(rows, request)
    meeting = [row for row in candidates if row["slo_met"]] or candidates
    chosen = min(meeting, key=lambda row: (row["monthly_cost_usd"], row["e2e_p99_ms"] or float("inf")))
    picked = variants[rows.index(chosen)]
    for row in rows:
        row["chosen"] = row is chosen
    result = plan(picked.service, picked.workload, slo, space, prices, seed=seed, cold=cold)
    result.details["payload_formats"] = {
        "asked": {
            "record_format": request.record_format,
            "aggregation": request.aggregation,
            "max_buffered_ms": request.max_buffered_ms,
        },
        "chosen": {"record_format": picked.record_format, "aggregation": picked.aggregation},
        "rows": rows,
        "sentence": _sentence(chosen, rows, request, slo),
        "measured_defaults": payload_costs.describe(),
        "service_time_measured_on": request.service_measured_on.record_format
        + (" (KPL-aggregated)" if request.service_measured_on.aggregated else ""),
    }
    return result
