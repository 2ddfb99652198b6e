"""The KPL aggregation format: magic bytes, a protobuf `AggregatedRecord`, and an MD5 trailer.

A tiny protobuf reader for just this message, so the Lambda package needs no protobuf runtime (the writer,
for tests and the load generator, is loadgen/kpl.py):

    message AggregatedRecord { repeated string partition_key_table = 1;
                               repeated string explicit_hash_key_table = 2;
                               repeated Record records = 3; }
    message Record { required uint64 partition_key_index = 1; optional uint64 explicit_hash_key_index = 2;
                     required bytes data = 3; repeated Tag tags = 4; }
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from pipeline.errors import PipelineError

KPL_MAGIC = b"\xf3\x89\x9a\xc2"
MD5_BYTES = 16
_WIRE_VARINT = 0
_WIRE_I64 = 1
_WIRE_LEN = 2
_WIRE_I32 = 5


class KplError(PipelineError, ValueError):
    """The aggregate's framing or checksum is wrong (reason CORRUPT_AGGREGATE)."""


@dataclass(frozen=True, slots=True)
class SubRecord:
    partition_key: str
    data: bytes


def is_aggregate(payload: bytes) -> bool:
    return payload[:4] == KPL_MAGIC


def _varint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if pos >= end or shift > 63:
            raise KplError("truncated or overlong varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def _fields(buf: bytes, pos: int, end: int) -> list[tuple[int, int | bytes]]:
    """(field number, value) pairs of one message; length-delimited values as bytes."""
    out: list[tuple[int, int | bytes]] = []
    while pos < end:
        key, pos = _varint(buf, pos, end)
        number, wire = key >> 3, key & 7
        if wire == _WIRE_VARINT:
            value, pos = _varint(buf, pos, end)
            out.append((number, value))
        elif wire == _WIRE_LEN:
            length, pos = _varint(buf, pos, end)
            if pos + length > end:
                raise KplError(f"field {number} runs past the end of the message")
            out.append((number, buf[pos : pos + length]))
            pos += length
        elif wire in (_WIRE_I64, _WIRE_I32):
            pos += 8 if wire == _WIRE_I64 else 4  # unknown fixed-width fields are skipped
            if pos > end:
                raise KplError(f"field {number} runs past the end of the message")
        else:
            raise KplError(f"unsupported wire type {wire} for field {number}")
    return out


def deaggregate(payload: bytes) -> list[SubRecord]:
    """The sub-records of a KPL aggregate, in order (their index is the sub-sequence number)."""
    if not is_aggregate(payload) or len(payload) < len(KPL_MAGIC) + MD5_BYTES:
        raise KplError("not a KPL aggregate (magic bytes or length)")
    body = payload[len(KPL_MAGIC) : -MD5_BYTES]
    if hashlib.md5(body).digest() != payload[-MD5_BYTES:]:
        raise KplError("MD5 trailer does not match the protobuf body")
    keys: list[str] = []
    raw_records: list[bytes] = []
    try:
        for number, value in _fields(body, 0, len(body)):
            if number == 1 and isinstance(value, bytes):
                keys.append(value.decode("utf-8"))
            elif number == 3 and isinstance(value, bytes):
                raw_records.append(value)
    except UnicodeDecodeError as exc:
        raise KplError("partition key is not UTF-8") from exc
    records: list[SubRecord] = []
    for raw in raw_records:
        key_index: int | None = None
        data: bytes | None = None
        for number, value in _fields(raw, 0, len(raw)):
            if number == 1 and isinstance(value, int):
                key_index = value
            elif number == 3 and isinstance(value, bytes):
                data = value
        if key_index is None or data is None or key_index >= len(keys):
            raise KplError("sub-record without a valid partition key index or data")
        records.append(SubRecord(keys[key_index], data))
    if not records:
        raise KplError("aggregate holds no records")
    return records
