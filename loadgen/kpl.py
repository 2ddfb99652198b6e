"""KPL record aggregation: many CDR payloads in one Kinesis record, in the format the KPL writes and the
KCL / `aws-kinesis-agg` de-aggregate (magic, protobuf AggregatedRecord, MD5 of the protobuf).

The project's one KPL encoder (the pipeline only decodes: pipeline/kpl.py, whose format constants it uses).
Used to build aggregated test records for the pipeline's "kpl+json" decoder. Not wired into the Locust
users: their accounting counts Kinesis records, and an aggregate would count as one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from capacity.quotas import KIB, MAX_RECORD_BYTES
from pipeline.kpl import KPL_MAGIC as MAGIC
from pipeline.kpl import MD5_BYTES as DIGEST_BYTES

# Keep an aggregate under the record size limit with room for the partition key (at most 256 characters).
MAX_AGGREGATE_BYTES = MAX_RECORD_BYTES - KIB
_LENGTH_DELIMITED, _VARINT = 2, 0


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | _LENGTH_DELIMITED) + _varint(len(payload)) + payload


def aggregate(payloads: Sequence[bytes], partition_keys: Sequence[str]) -> bytes:
    """One aggregated record holding `payloads` (each with its own partition key, in the key table)."""
    table: dict[str, int] = {}
    records = []
    for payload, key in zip(payloads, partition_keys, strict=True):
        index = table.setdefault(key, len(table))
        records.append(_field(3, _varint(1 << 3 | _VARINT) + _varint(index) + _field(3, payload)))
    body = b"".join(_field(1, key.encode()) for key in table) + b"".join(records)
    return MAGIC + body + hashlib.md5(body, usedforsecurity=False).digest()


def aggregate_batch(
    payloads: Sequence[bytes], partition_keys: Sequence[str], records_per_aggregate: int
) -> tuple[list[bytes], list[str], list[int]]:
    """(aggregates, their partition keys, CDRs in each): groups of up to `records_per_aggregate` under
    1 MiB. An aggregate is routed by its first record's key, as the KPL does."""
    aggregates: list[bytes] = []
    keys: list[str] = []
    counts: list[int] = []
    start = 0
    while start < len(payloads):
        end, size = start, len(MAGIC) + DIGEST_BYTES
        while end < len(payloads) and end - start < records_per_aggregate:
            size += len(payloads[end]) + len(partition_keys[end]) + 16  # protobuf framing, generously
            if size > MAX_AGGREGATE_BYTES and end > start:
                break
            end += 1
        aggregates.append(aggregate(payloads[start:end], partition_keys[start:end]))
        keys.append(partition_keys[start])
        counts.append(end - start)
        start = end
    return aggregates, keys, counts


def corrupt(aggregated: bytes) -> bytes:
    """The same aggregate with a wrong MD5: the pipeline must reject it as CORRUPT_AGGREGATE."""
    return aggregated[:-1] + bytes([aggregated[-1] ^ 0xFF])
