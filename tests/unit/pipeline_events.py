"""Builders of realistic CDR payloads and Kinesis events, shared by the pipeline's unit/functional tests."""

from __future__ import annotations

import base64
from typing import Any

import orjson

from pipeline.kpl import SubRecord, aggregate
from pipeline.schema import CSV_COLUMNS, JSON_RENAMED_V2

# A realistic 56-digit Kinesis sequence number; each record adds to it.
BASE_SEQUENCE = 49_590_338_271_490_256_608_559_692_538_361_571_095_921_575_989_136_588_898
NOW_MS = 1_795_010_400_000  # 2026-11-18T14:00:00Z: the fixed "now" unit tests process at
SHARD = "shardId-000000000000"


def make_cdr(i: int = 0, **overrides: Any) -> dict[str, Any]:
    """A valid v1 JSON CDR (answered MOC, US home network) whose cdr_id is derived from `i`."""
    cdr: dict[str, Any] = {
        "schema_version": 1,
        "record_type": "MOC",
        "calling_number": f"+1201555{i % 10000:04d}",
        "called_number": "+442079460958",
        "imsi": f"31026{i % 10**10:010d}",
        "imei": "35209900176148" + str(i % 10),
        "seizure_time": "2026-11-18T08:00:00",
        "answer_time": "2026-11-18T08:00:05",
        "release_time": "2026-11-18T08:01:05",
        "utc_offset": "-05:00",
        "duration_s": 60,
        "cause_for_term": "normalRelease",
        "mcc": "310",
        "mnc": "260",
        "lac": 1001,
        "cell_id": 10 + i % 3,
        "msc_id": "MSC01",
        "call_reference": f"CR{i:08d}",
        "sequence": 0,
        "last_partial": True,
        "roaming": False,
        "bytes_up": 0,
        "bytes_down": 0,
    }
    cdr.update(overrides)
    return cdr


def as_json(cdr: dict[str, Any], version: int = 1) -> bytes:
    doc = dict(cdr)
    doc["schema_version"] = version
    if version == 2:
        for old, new in JSON_RENAMED_V2.items():
            doc[new] = doc.pop(old)
        doc.setdefault("rat", "EUTRAN")
    return orjson.dumps(doc)


def as_csv(cdr: dict[str, Any], version: int = 1) -> bytes:
    doc = dict(cdr)
    doc["schema_version"] = version
    if version == 2:
        for old, new in JSON_RENAMED_V2.items():
            doc[new] = doc.pop(old)
        doc.setdefault("rat", "NR")
    cells = []
    for name in CSV_COLUMNS[version]:
        value = doc.get(name)
        cells.append("" if value is None else str(int(value)) if isinstance(value, bool) else str(value))
    return ",".join(cells).encode()


def as_kpl(payloads: list[bytes], partition_key: str = "agg") -> bytes:
    return aggregate([SubRecord(f"{partition_key}-{i}", p) for i, p in enumerate(payloads)])


def kinesis_record(payload: bytes, seq: int, shard: str = SHARD, arrival_ms: int = NOW_MS) -> dict[str, Any]:
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": f"pk-{seq % 97}",
            "sequenceNumber": str(BASE_SEQUENCE + seq),
            "data": base64.b64encode(payload).decode(),
            "approximateArrivalTimestamp": arrival_ms / 1000,
        },
        "eventSource": "aws:kinesis",
        "eventID": f"{shard}:{BASE_SEQUENCE + seq}",
        "eventSourceARN": "arn:aws:kinesis:us-east-1:000000000000:stream/cdrcap-cdr-in",
    }


def kinesis_event(payloads: list[bytes], first_seq: int = 0, shard: str = SHARD) -> dict[str, Any]:
    return {"Records": [kinesis_record(p, first_seq + k, shard) for k, p in enumerate(payloads)]}
