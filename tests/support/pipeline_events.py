"""Builders of realistic CDR payloads and Kinesis events, shared by the pipeline's unit/functional tests."""

from __future__ import annotations

import base64
from typing import Any

import orjson

from loadgen.kpl import aggregate
from pipeline.avro_cdr import AvroEncoder
from pipeline.config import PipelineConfig, load_config
from pipeline.schema import CSV_COLUMNS, JSON_RENAMED_V2

# A realistic 56-digit Kinesis sequence number; each record adds to it.
BASE_SEQUENCE = 49_590_338_271_490_256_608_559_692_538_361_571_095_921_575_989_136_588_898
NOW_MS = 1_795_010_400_000  # 2026-11-18T14:00:00Z: the fixed "now" unit tests process at
SHARD = "shardId-000000000000"
FLOODER = "+12015550199"  # the A-number of `flood`


PIPELINE_ENV = {  # the four required variables of pipeline.config, with placeholder store names
    "CDRCAP_OUTPUT_STREAM": "out",
    "CDRCAP_AGGREGATES_TABLE": "aggregates",
    "CDRCAP_ARCHIVE_BUCKET": "archive",
    "CDRCAP_DLQ_URL": "http://queue",
}
PIPELINE_CONFIG: PipelineConfig = load_config(PIPELINE_ENV)  # the handler's defaults over PIPELINE_ENV


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


def _versioned(cdr: dict[str, Any], version: int, rat: str) -> dict[str, Any]:
    """The wire fields of `version`: v2 renames fields and adds `rat`."""
    doc = dict(cdr)
    doc["schema_version"] = version
    if version == 2:
        for old, new in JSON_RENAMED_V2.items():
            doc[new] = doc.pop(old)
        doc.setdefault("rat", rat)
    return doc


def as_json(cdr: dict[str, Any], version: int = 1) -> bytes:
    return orjson.dumps(_versioned(cdr, version, "EUTRAN"))


def as_csv(cdr: dict[str, Any], version: int = 1) -> bytes:
    doc = _versioned(cdr, version, "NR")
    cells = []
    for name in CSV_COLUMNS[version]:
        value = doc.get(name)
        cells.append("" if value is None else str(int(value)) if isinstance(value, bool) else str(value))
    return ",".join(cells).encode()


def as_avro(cdr: dict[str, Any], encoder: AvroEncoder) -> bytes:
    """`cdr` (v1 wire names) as a GSR-framed Avro record of the encoder's schema (v2 gets `rat`)."""
    fields = dict(cdr)
    if encoder.version == 2:
        fields.setdefault("rat", "NR")
    return encoder.encode(fields)


def as_kpl(payloads: list[bytes], partition_key: str = "agg") -> bytes:
    return aggregate(payloads, [f"{partition_key}-{i}" for i in range(len(payloads))])


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


BAD_PAYLOADS: dict[str, bytes] = {
    "MALFORMED_PAYLOAD": b'{"schema_version": 1, "record_type": ',
    "UNKNOWN_SCHEMA_VERSION": orjson.dumps({"schema_version": 7}),
    "EMPTY_RECORD": b"",
    "BAD_ENCODING": b"\xff\xfe\xfa,1,2",
    "CORRUPT_AGGREGATE": as_kpl([b"x"])[:-1] + b"\x00",
}


def flood(count: int, first: int = 0) -> list[bytes]:
    """`count` short answered calls from one A-number within the same minute, to distinct B-numbers."""
    return [
        as_json(
            make_cdr(
                first + k,
                calling_number=FLOODER,
                called_number=f"+1201555{2000 + first + k:04d}",
                seizure_time=f"2026-11-18T08:00:{k:02d}",
                answer_time=f"2026-11-18T08:00:{k:02d}",
                release_time=f"2026-11-18T08:00:{k + 1:02d}",
                duration_s=1,
            )
        )
        for k in range(count)
    ]


def mixed_batch(records: int = 500) -> tuple[list[bytes], dict[str, int]]:
    """Kinesis payloads mixing JSON v1/v2, CSV v1/v2, KPL aggregates (4 CDRs each), bad records and
    duplicates; plus the expected count per outcome ("ok" or a reason code), per CDR unit."""
    payloads: list[bytes] = []
    expected: dict[str, int] = {}
    goods: list[dict[str, Any]] = []
    n = 0

    def count(key: str, k: int = 1) -> None:
        expected[key] = expected.get(key, 0) + k

    for k in range(records):
        kind = k % 20
        if kind in (0, 1, 2, 3, 4, 5, 6, 7):
            goods.append(_varied(n))
            payloads.append(as_json(goods[-1], version=1 + kind % 2))
            count("ok")
        elif kind in (8, 9, 10, 11):
            goods.append(_varied(n))
            payloads.append(as_csv(goods[-1], version=1 + kind % 2))
            count("ok")
        elif kind in (12, 13):
            payloads.append(as_kpl([as_json(_varied(n + j)) for j in range(4)], f"agg{k}"))
            n += 3
            count("ok", 4)
        elif kind == 14:
            reason = list(BAD_PAYLOADS)[(k // 20) % len(BAD_PAYLOADS)]
            payloads.append(BAD_PAYLOADS[reason])
            count(reason)
        elif kind == 15:
            payloads.append(as_json(make_cdr(n, duration_s=-3)))
            count("NEGATIVE_DURATION")
        elif kind == 16:
            payloads.append(as_json(make_cdr(n, called_number="0044 20 7946 0958")))
            count("INVALID_PHONE_NUMBER")
        elif kind == 17:
            payloads.append(as_json(make_cdr(n, release_time="2026-11-18T07:00:00")))
            count("END_BEFORE_START")
        else:  # 18, 19: a source duplicate of an earlier good CDR (same derived cdr_id)
            payloads.append(as_json(goods[-1 - kind % 3]))
            count("DUPLICATE_CDR")
            continue
        n += 1
    return payloads, expected


def _varied(n: int) -> dict[str, Any]:
    """Good CDRs of every record type, answered or not, a few destinations and cells."""
    kind = n % 6
    if kind == 0:
        return make_cdr(n)
    if kind == 1:
        return make_cdr(n, record_type="MTC", answer_time=None, duration_s=65, called_number="+14155552671")
    if kind == 2:
        return make_cdr(n, record_type="SMS_MO", answer_time=None, duration_s=0, called_number="33669")
    if kind == 3:
        return make_cdr(n, record_type="DATA", answer_time=None, duration_s=65, bytes_up=1000, bytes_down=n)
    if kind == 4:
        return make_cdr(
            n,
            called_number="911",
            utc_offset="+05:30",
            seizure_time="2026-11-18T18:30:00",
            answer_time="2026-11-18T18:30:02",
            release_time="2026-11-18T18:31:00",
            duration_s=58,
        )
    return make_cdr(n, record_type="FORWARD", called_number="+33142685300", roaming=True)


def ber_call_fields(reference: str, seizure_utc_ms: int, record_type: str = "MOC") -> dict[str, Any]:
    """Canonical fields of a one-minute Indian mobile call, for loadgen.ber.encode_record."""
    return {
        "record_type": record_type,
        "a_number_raw": "+919812345678",
        "b_number_raw": "+14155550100",
        "imsi": "404451234567890",
        "imei": "490154203237518",
        "seizure_utc_ms": seizure_utc_ms,
        "answer_utc_ms": seizure_utc_ms + 5_000,
        "release_utc_ms": seizure_utc_ms + 65_000,
        "utc_offset_min": 330,
        "duration_s": 60,
        "cause_for_term": "normalRelease",
        "mcc": "404",
        "mnc": "45",
        "lac": 1,
        "cell_id": 2,
        "msc_id": "+919800000001",
        "call_reference": reference,
        "partial_sequence": 0,
    }
