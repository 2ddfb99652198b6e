"""What one CDR (and one invocation) asks of every service the pipeline uses: the quantities the planner
sizes the sinks with and prices, each with where it came from.

Three sources, in the order the planner prefers them: a run's own measurement (the handler's EMF: the
request meter's billed units per batch, pipeline/metering.py), a file the user gives (`--resource-use`), and
the defaults below, measured by `make bench` (tests/benchmarks/bench_resource_use.py) on the date stated.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Final

from capacity import quotas
from capacity.emf import parse_emf
from capacity.errors import CapacityError

# Per CDR accepted into the input stream.
PER_CDR_KEYS: Final = (
    "dynamodb_write_units",  # consumed write units (claims, aggregates, fraud state)
    "dynamodb_read_units",  # consumed read units (claim owners on re-delivery, fraud reads)
    "output_records",  # enriched records PUT to the output stream (rejects are not)
    "output_bytes",  # their bytes, partition keys included
    "output_put_payload_units",  # their 25 KB PUT payload units
    "s3_bytes",  # gzip NDJSON archive bytes
    "sqs_billed_requests",  # dead-letter queue requests, one per 64 KB chunk
    "eventbridge_events",  # fraud alerts, one per 64 KB chunk
)
# Per invocation (they do not scale with the CDRs in a batch).
PER_INVOCATION_KEYS: Final = (
    "s3_puts",  # archive objects
    "log_bytes",  # CloudWatch Logs ingestion: the handler's lines plus Lambda's START/END/REPORT
    "dynamodb_hottest_item_writes",  # writes of the most-written aggregate item in one batch
)
OTHER_KEYS: Final = ("dynamodb_units_per_item_write",)
KEYS: Final = PER_CDR_KEYS + PER_INVOCATION_KEYS + OTHER_KEYS

# The EMF metric (pipeline/metering.py, pipeline/handler.py) each per-CDR quantity is summed from.
EMF_SOURCES: Final = {
    "dynamodb_write_units": "AwsDynamoDBWriteUnits",
    "dynamodb_read_units": "AwsDynamoDBReadUnits",
    "output_records": "AwsKinesisPutRecords",
    "output_bytes": "AwsKinesisPutBytes",
    "output_put_payload_units": "AwsKinesisPutPayloadUnits",
    "s3_bytes": "AwsS3PutBytes",
    "sqs_billed_requests": "AwsSqsBilledRequests",
    "eventbridge_events": "AwsEventBridgeBilledEvents",
}
EMF_PER_INVOCATION_SOURCES: Final = {
    "s3_puts": "AwsS3PutRequests",
    "dynamodb_hottest_item_writes": "DynamoHottestItemWrites",
}


@dataclass(frozen=True)
class ResourceUse:
    """Quantities per CDR and per invocation, where they came from, and the batch they were measured at."""

    dynamodb_write_units: float
    dynamodb_read_units: float
    output_records: float
    output_bytes: float
    output_put_payload_units: float
    s3_bytes: float
    sqs_billed_requests: float
    eventbridge_events: float
    s3_puts: float
    log_bytes: float
    dynamodb_hottest_item_writes: float
    dynamodb_units_per_item_write: float  # write units per item written (2 in a transaction, x item KB)
    custom_metrics: int  # distinct EMF metric names the handler publishes (CloudWatch bills each monthly)
    source: str
    measured_batch_records: float | None = None

    @property
    def output_bytes_per_record(self) -> float:
        return self.output_bytes / self.output_records if self.output_records > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self, batch_records: float) -> dict[str, Any]:
        """`details.resource_use_per_cdr`: every quantity per CDR at this batch size, plus the raw values."""
        per_cdr: dict[str, Any] = {key: round(getattr(self, key), 6) for key in PER_CDR_KEYS}
        for key in PER_INVOCATION_KEYS:
            per_cdr[key] = round(getattr(self, key) / max(batch_records, 1.0), 6)
        return {
            **per_cdr,
            "per_invocation": {key: round(getattr(self, key), 3) for key in PER_INVOCATION_KEYS},
            "dynamodb_units_per_item_write": round(self.dynamodb_units_per_item_write, 3),
            "at_batch_records": round(batch_records, 1),
            "measured_batch_records": self.measured_batch_records,
            "custom_metrics": self.custom_metrics,
            "source": self.source,
        }


# Measured by `make bench` (tests/benchmarks/bench_resource_use.py) on 2026-12-03: the real handler with its
# AWS stores against MiniStack 1.5.33, loadgen's realistic JSON/CSV mix (2 % defects), 500-record batches,
# fraud rules off. MiniStack computes ConsumedCapacity as DynamoDB does (item size, 2x in a transaction).
BENCH_DATE: Final = "2026-12-03"
DEFAULT: Final = ResourceUse(
    dynamodb_write_units=5.547,
    dynamodb_read_units=0.0,
    output_records=0.980,
    output_bytes=844.6,
    output_put_payload_units=0.980,
    s3_bytes=38.2,
    sqs_billed_requests=0.0023,
    eventbridge_events=0.0,
    s3_puts=1.0,
    log_bytes=3_564.5,
    dynamodb_hottest_item_writes=5.17,
    dynamodb_units_per_item_write=2.0,
    custom_metrics=29,
    source=f"benchmark default (bench_resource_use, {BENCH_DATE}, batch 509, fraud off)",
    measured_batch_records=509.0,
)
# The same benchmark with the fraud rules on (transact state writes): 9.70 write units and 0.0098 read units
# per CDR, 0.011 EventBridge events per CDR; the rest as above. `--resource-use` takes such numbers.
# Refreshed 2026-12-03: only the archive bytes changed (42.9 -> 38.2 per CDR, gzip level 3).


# DynamoDB write units per CDR of the aggregates under each exactly-once design (pipeline/config.py
# CDRCAP_EXACTLY_ONCE), measured by `make bench` (bench_handler, 2026-12-02, 40 batches of 500 records, fraud
# off; ledger 2026-12-03, the same batches arriving at one shard's 1,000 records/s): what the planner
# compares in `details.exactly_once_designs`. "conventional" (one UpdateItem per CDR
# and aggregate, not exactly once) and "floor" (each distinct item written once per batch, no idempotency)
# are references, not deployable designs.
EXACTLY_ONCE_WRITE_UNITS_PER_CDR: Final = {
    "per_record": 5.557,
    "folded": 3.605,
    "ledger": 0.071,
    "conventional (not exactly once)": 2.671,
    "floor (no idempotency)": 1.302,
}
# Strongly consistent read units per CDR a design adds without re-delivery (same benchmark): ledger reads
# the claims items of each commit's (shard, arrival second) buckets; the others read only on re-delivery.
EXACTLY_ONCE_READ_UNITS_PER_CDR: Final = {"ledger": 0.0049}
DEPLOYED_DESIGN: Final = "per_record"  # infra/pipeline.yaml's default (parameter ExactlyOnceDesign)


def for_design(use: ResourceUse, measured_design: str, design: str) -> ResourceUse:
    """`use`, measured under `measured_design`, with the aggregates' share swapped for `design`'s (bench
    numbers above): what the fraud state and the other sinks use stays."""
    if design == measured_design:
        return use
    writes = EXACTLY_ONCE_WRITE_UNITS_PER_CDR
    reads = EXACTLY_ONCE_READ_UNITS_PER_CDR
    return replace(
        use,
        dynamodb_write_units=round(
            max(use.dynamodb_write_units - writes[measured_design], 0.0) + writes[design], 6
        ),
        dynamodb_read_units=round(
            max(use.dynamodb_read_units - reads.get(measured_design, 0.0), 0.0) + reads.get(design, 0.0), 6
        ),
        source=f"{use.source}, with {design}'s aggregate write and read units in place of "
        f"{measured_design}'s (bench_handler, {BENCH_DATE})",
    )


def design_comparison(
    use: ResourceUse,
    rate_rps: float,
    write_unit_usd: float,
    read_unit_usd: float = 0.0,
    measured_design: str = DEPLOYED_DESIGN,
) -> list[dict[str, Any]]:
    """Each design's write (and added read) units per CDR and DynamoDB cost per month at `rate_rps`: the
    use, measured under `measured_design`, with the aggregates' share swapped (the fraud state stays)."""
    others = max(use.dynamodb_write_units - EXACTLY_ONCE_WRITE_UNITS_PER_CDR[measured_design], 0.0)
    cdrs_per_month = rate_rps * quotas.SECONDS_PER_MONTH
    rows = []
    for design, units in EXACTLY_ONCE_WRITE_UNITS_PER_CDR.items():
        reads = EXACTLY_ONCE_READ_UNITS_PER_CDR.get(design, 0.0)
        rows.append(
            {
                "design": design,
                "dynamodb_write_units_per_cdr": round(others + units, 3),
                "dynamodb_read_units_per_cdr_added": reads,
                "dynamodb_usd_per_month": round(
                    cdrs_per_month * ((others + units) * write_unit_usd + reads * read_unit_usd) / 1e6, 2
                ),
            }
        )
    return rows


def from_mapping(values: Mapping[str, Any], source: str) -> ResourceUse:
    """DEFAULT with the given keys replaced; a missing-or-bad value is an error that names the key."""
    known = set(KEYS) | {"custom_metrics", "measured_batch_records"}
    unknown = sorted(set(values) - known - {"source"})
    if unknown:
        raise CapacityError(f"resource use: unknown keys {unknown}; valid keys: {sorted(known)}")
    cleaned: dict[str, Any] = {}
    for key, value in values.items():
        if key == "source":
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise CapacityError(f"resource use: {key}={value!r} must be a number")
        if value < 0:
            raise CapacityError(f"resource use: {key}={value!r} must be >= 0")
        cleaned[key] = int(value) if key == "custom_metrics" else float(value)
    return replace(DEFAULT, **cleaned, source=source)


def load(path: Path) -> ResourceUse:
    """A resource-use file (TOML, top level or [resource_use]; or JSON): every per-CDR/per-invocation key
    must be given, so that no number silently falls back to a default."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise CapacityError(f"cannot read resource-use file {path}: {error.strerror}") from error
    try:
        data: Any = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as error:
        kind = path.suffix or "TOML"
        raise CapacityError(f"resource-use file {path} is not valid {kind}: {error}") from error
    table = data.get("resource_use", data) if isinstance(data, dict) else None
    if not isinstance(table, dict):
        raise CapacityError(f"resource-use file {path}: expected a table of {', '.join(KEYS)}")
    missing = [key for key in KEYS if key not in table]
    if missing:
        raise CapacityError(
            f"resource-use file {path}: missing {', '.join(missing)}; give every key "
            f"({', '.join(KEYS)}), e.g. copy `details.resource_use_per_cdr` of a plan"
        )
    return from_mapping(table, f"file {path}")


def from_emf_totals(
    totals: Mapping[str, float],
    *,
    cdrs: float,
    invocations: float,
    log_bytes: float | None,
    custom_metrics: int,
    source: str,
) -> ResourceUse | None:
    """Per-CDR use from the EMF sums of a run window; None when the window has no CDR or no meter data."""
    if cdrs <= 0 or invocations <= 0 or "AwsDynamoDBWriteUnits" not in totals:
        return None
    values: dict[str, float] = {key: totals.get(metric, 0.0) / cdrs for key, metric in EMF_SOURCES.items()}
    values["s3_puts"] = totals.get("AwsS3PutRequests", 0.0) / invocations
    hottest = totals.get("DynamoHottestItemWrites")
    values["dynamodb_hottest_item_writes"] = (
        hottest / invocations if hottest is not None else DEFAULT.dynamodb_hottest_item_writes
    )
    items = totals.get("DynamoWrites", 0.0)
    aggregate_units = totals.get("DynamoWriteUnits", 0.0)  # the aggregate transactions' units
    values["dynamodb_units_per_item_write"] = (
        aggregate_units / items
        if items > 0 and aggregate_units > 0
        else DEFAULT.dynamodb_units_per_item_write
    )
    handler_log_bytes = log_bytes / invocations if log_bytes is not None else DEFAULT.log_bytes
    values["log_bytes"] = handler_log_bytes + (
        quotas.LAMBDA_PLATFORM_LOG_BYTES_PER_INVOCATION if log_bytes is not None else 0.0
    )
    return replace(
        DEFAULT,
        **values,
        custom_metrics=custom_metrics,
        source=source,
        measured_batch_records=round(cdrs / invocations, 1),
    )


def emf_totals(lines: Iterable[str], start_ms: float | None = None) -> tuple[dict[str, float], int, int, int]:
    """Sum every declared metric of the EMF documents in `lines` (text lines of a function's log), in one
    pass. With `start_ms`, an EMF document counts from its timestamp on, and the lines after it (the
    invocation's own log lines) count with it.

    Returns (sums by metric name, EMF documents, bytes of the counted lines, distinct metric names)."""
    totals: dict[str, float] = {}
    documents = size = 0
    names: set[str] = set()
    counting = start_ms is None
    for line in lines:
        document = parse_emf(line)
        if document is not None:
            timestamp = document["_aws"].get("Timestamp")
            counting = start_ms is None or (isinstance(timestamp, int | float) and timestamp >= start_ms)
        if not counting:
            continue
        size += len(line.encode())
        if document is None:
            continue
        documents += 1
        for directive in document["_aws"].get("CloudWatchMetrics", []):
            for metric in directive.get("Metrics", []):
                name = metric.get("Name")
                names.add(name)
                value = document.get(name)
                if isinstance(value, int | float) and not isinstance(value, bool):
                    totals[name] = totals.get(name, 0.0) + float(value)
    return totals, documents, size, len(names)
