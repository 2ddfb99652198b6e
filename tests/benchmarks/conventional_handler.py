"""The baseline for the handler benchmarks: the same job written the conventional way (not shipped).

Powertools' `BatchProcessor` calls `record_handler` once per Kinesis record; the payload (JSON or CSV;
KPL aggregates are expanded first, as the aws-kinesis-agg library would) is validated by a pydantic
model whose validators normalise both phone numbers with `phonenumbers` and the times to UTC; every
valid CDR is then written with one DynamoDB `UpdateItem` per aggregate item it counts towards (cell,
A-number, destination country: `ADD` counters, no pre-aggregation, no idempotency, so a re-delivery
counts twice), and its enriched JSON goes to the output stream in `PutRecords` calls of 500. A bad
record raises, which Powertools reports as a batchItemFailure (the usual pattern: it is retried).

`cache_numbers=True` gives it the same per-number LRU cache as ours, to show what is left without it.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, Literal

import phonenumbers
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord
from phonenumbers import PhoneNumberFormat, shortnumberinfo
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator

from pipeline.aggregate import COUNTERS
from pipeline.kpl import deaggregate, is_aggregate
from pipeline.schema import CSV_COLUMNS, JSON_RENAMED_V2, RecordType

TTL_S = 7 * 24 * 3600
_CALLS = {RecordType.MOC, RecordType.MTC, RecordType.FORWARD}
_SMS = {RecordType.SMS_MO, RecordType.SMS_MT}
_UPDATE = "ADD " + ", ".join(f"{name} :{name}" for name in COUNTERS) + " SET expires_at = :ttl"


def e164(raw: str, region: str) -> tuple[str, str | None]:
    """(E.164 or the short code as dialled, destination country); ValueError when not a number."""
    text = raw.strip().removeprefix("tel:")
    if not text.startswith("+") and shortnumberinfo.is_emergency_number(text, region):
        return text, None
    parsed = phonenumbers.parse(text, region)
    if phonenumbers.is_valid_number(parsed):
        return phonenumbers.format_number(
            parsed, PhoneNumberFormat.E164
        ), phonenumbers.region_code_for_number(parsed)
    if shortnumberinfo.is_valid_short_number_for_region(parsed, region):
        return text, None
    raise ValueError(f"not a valid number: {raw}")


class Cdr(BaseModel):
    model_config = ConfigDict(extra="ignore")

    schema_version: int = Field(ge=1, le=2)
    cdr_id: str | None = None
    record_type: RecordType
    calling_number: str = Field(validation_alias=AliasChoices("calling_number", "a_party"))
    called_number: str
    imsi: str | None = Field(default=None, pattern=r"^\d{6,15}$")
    imei: str | None = Field(default=None, pattern=r"^\d{14,16}$")
    seizure_time: datetime
    answer_time: datetime | None = None
    release_time: datetime
    utc_offset: str = Field(pattern=r"^[+-]\d{2}:?\d{2}$")
    duration_s: int = Field(ge=0)
    cause_for_term: str | None = None
    mcc: str = Field(pattern=r"^\d{3}$")
    mnc: str = Field(pattern=r"^\d{2,3}$")
    lac: int | None = None
    cell_id: int
    msc_id: str
    call_reference: str
    sequence: int = 0
    last_partial: bool = True
    roaming: bool = False
    bytes_up: int = Field(default=0, ge=0)
    bytes_down: int = Field(default=0, ge=0)
    rat: Literal["GERAN", "UTRAN", "EUTRAN", "NR", "WLAN"] | None = None
    # Filled by the validator below.
    a_number: str = ""
    b_number: str = ""
    b_country: str | None = None

    @model_validator(mode="after")
    def normalise(self) -> Cdr:
        sign = -1 if self.utc_offset[0] == "-" else 1
        digits = self.utc_offset[1:].replace(":", "")
        zone = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
        for name in ("seizure_time", "answer_time", "release_time"):
            moment = getattr(self, name)
            if moment is not None:
                setattr(self, name, moment.replace(tzinfo=moment.tzinfo or zone).astimezone(UTC))
        if self.release_time < self.seizure_time:
            raise ValueError("release_time before seizure_time")
        return self


class ConventionalHandler:
    """`handle(event)` -> {"batchItemFailures": [...]}; clients are boto3 clients or the fakes below."""

    def __init__(
        self,
        dynamodb: Any,
        kinesis: Any,
        table: str,
        stream: str,
        region: str = "US",
        *,
        cache_numbers: bool = False,
    ) -> None:
        self.dynamodb, self.kinesis, self.table, self.stream, self.region = (
            dynamodb,
            kinesis,
            table,
            stream,
            region,
        )
        self.normalise: Callable[[str, str], tuple[str, str | None]] = (
            lru_cache(maxsize=131_072)(e164) if cache_numbers else e164
        )
        self.processor = BatchProcessor(event_type=EventType.KinesisDataStreams)
        self.pending: list[dict[str, Any]] = []

    def handle(self, event: dict[str, Any]) -> dict[str, Any]:
        self.pending = []
        response = process_partial_response(
            event=event, record_handler=self.record_handler, processor=self.processor
        )
        for start in range(0, len(self.pending), 500):
            self.kinesis.put_records(StreamName=self.stream, Records=self.pending[start : start + 500])
        return dict(response)

    def record_handler(self, record: KinesisStreamRecord) -> None:
        data = record.kinesis.data_as_bytes()
        payloads = [sub.data for sub in deaggregate(data)] if is_aggregate(data) else [data]
        for payload in payloads:
            cdr = self.parse(payload)
            cdr.a_number, _ = self.normalise(cdr.calling_number, self.region)
            cdr.b_number, cdr.b_country = self.normalise(cdr.called_number, self.region)
            self.write_aggregates(cdr)
            self.pending.append({"Data": cdr.model_dump_json().encode(), "PartitionKey": cdr.a_number})

    @staticmethod
    def parse(payload: bytes) -> Cdr:
        if payload.lstrip()[:1] == b"{":
            return Cdr.model_validate_json(payload)
        cells = next(csv.reader([payload.decode()]))
        columns = CSV_COLUMNS[int(cells[0])]
        fields = {name: (cell or None) for name, cell in zip(columns, cells, strict=True)}
        for old, new in JSON_RENAMED_V2.items():
            if new in fields:
                fields[old] = fields.pop(new)
        return Cdr.model_validate(fields)

    def write_aggregates(self, cdr: Cdr) -> None:
        minute = cdr.seizure_time.replace(second=0, microsecond=0)
        sort_key = "m#" + minute.strftime("%Y-%m-%dT%H:%MZ")
        holding_s = int((cdr.release_time - cdr.seizure_time).total_seconds())
        answered = cdr.answer_time is not None
        is_call = cdr.record_type in _CALLS
        counters = {
            "records": 1,
            "calls": int(is_call),
            "answered_calls": int(is_call and answered),
            "total_s": holding_s if is_call else 0,
            "billable_s": cdr.duration_s if is_call and answered else 0,
            "sms": int(cdr.record_type in _SMS),
            "data_bytes": cdr.bytes_up + cdr.bytes_down if cdr.record_type is RecordType.DATA else 0,
        }
        values = {f":{name}": {"N": str(value)} for name, value in counters.items()}
        values[":ttl"] = {"N": str(int(minute.timestamp()) + 60 + TTL_S)}
        keys = [f"cell#{cdr.mcc}-{cdr.mnc}-{cdr.lac if cdr.lac is not None else ''}-{cdr.cell_id}"]
        keys.append(f"anum#{cdr.a_number}")
        if cdr.b_country and cdr.record_type is not RecordType.DATA:
            keys.append(f"dest#{cdr.b_country}")
        for pk in keys:
            self.dynamodb.update_item(
                TableName=self.table,
                Key={"pk": {"S": pk}, "sk": {"S": sort_key}},
                UpdateExpression=_UPDATE,
                ExpressionAttributeValues=values,
            )


class CountingDynamoClient:
    """In-memory stand-in for a boto3 DynamoDB client: applies ADD updates and counts requests."""

    def __init__(self) -> None:
        self.requests = 0
        self.write_units = 0
        self.items: dict[tuple[str, str], dict[str, int]] = {}

    def update_item(self, **kwargs: Any) -> dict[str, Any]:
        self.requests += 1
        self.write_units += 1  # a standard write of an item <= 1 KB
        key = (kwargs["Key"]["pk"]["S"], kwargs["Key"]["sk"]["S"])
        item = self.items.setdefault(key, dict.fromkeys(COUNTERS, 0))
        for name in COUNTERS:
            item[name] += int(kwargs["ExpressionAttributeValues"][f":{name}"]["N"])
        return {}


class CountingKinesisClient:
    def __init__(self) -> None:
        self.requests = 0
        self.records = 0

    def put_records(self, **kwargs: Any) -> dict[str, Any]:
        self.requests += 1
        self.records += len(kwargs["Records"])
        return {"FailedRecordCount": 0, "Records": [{} for _ in kwargs["Records"]]}


def timed_handle(handler: ConventionalHandler, batches: list[dict[str, Any]]) -> float:
    """CPU seconds to handle `batches`."""
    started = time.process_time()
    for batch in batches:
        handler.handle(batch)
    return time.process_time() - started
