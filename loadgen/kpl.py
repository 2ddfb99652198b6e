"""KPL record aggregation: many CDR payloads in one Kinesis record, in the format the KPL writes and the
KCL / `aws-kinesis-agg` de-aggregate (magic, protobuf AggregatedRecord, MD5 of the protobuf).

The project's one KPL encoder (the pipeline only decodes: pipeline/kpl.py, whose format constants it uses).
`KplPacker` is what the load generator's `aggregation = "kpl"` sends through: CDRs grouped by the shard
their partition key hashes to (as the KPL does), packed into aggregates up to a size cap.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from capacity.quotas import KIB, KPL_RECORD_MAX_BUFFERED_TIME_MS, MAX_RECORD_BYTES
from loadgen.errors import LoadConfigError
from loadgen.keys import ShardRange, hash_key
from pipeline.kpl import KPL_MAGIC as MAGIC
from pipeline.kpl import MD5_BYTES as DIGEST_BYTES

# Keep an aggregate under the record size limit with room for the partition key (at most 256 characters).
MAX_AGGREGATE_BYTES = MAX_RECORD_BYTES - KIB
MIN_AGGREGATE_BYTES = 1 * KIB  # below this an aggregate barely holds two CDRs: a configuration mistake
AGGREGATIONS = ("none", "kpl")
DEFAULT_MAX_BUFFERED_MS = float(KPL_RECORD_MAX_BUFFERED_TIME_MS)
MAX_BUFFERED_MS_LIMIT = 10_000.0  # the harness's bound: longer buffering is a latency bug, not a setting
_LENGTH_DELIMITED, _VARINT = 2, 0
_FRAMING_BYTES = len(MAGIC) + DIGEST_BYTES
_TAG_BYTES = 1  # every field number used here (1, 3) fits a one-byte tag


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _varint_len(value: int) -> int:
    return max(1, -(-value.bit_length() // 7))


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | _LENGTH_DELIMITED) + _varint(len(payload)) + payload


def _length_delimited_len(payload_len: int) -> int:
    return _TAG_BYTES + _varint_len(payload_len) + payload_len


def sub_record_bytes(payload_len: int, key_index: int) -> int:
    """Exact bytes one sub-record adds to an aggregate (its Record message, framed as field 3)."""
    record = _TAG_BYTES + _varint_len(key_index) + _length_delimited_len(payload_len)
    return _length_delimited_len(record)


def key_entry_bytes(key: str) -> int:
    """Exact bytes a new partition key adds to the aggregate's key table."""
    return _length_delimited_len(len(key.encode()))


def aggregate(payloads: Sequence[bytes], partition_keys: Sequence[str]) -> bytes:
    """One aggregated record holding `payloads` (each with its own partition key, in the key table)."""
    table: dict[str, int] = {}
    records = []
    for payload, key in zip(payloads, partition_keys, strict=True):
        index = table.setdefault(key, len(table))
        records.append(_field(3, _varint(1 << 3 | _VARINT) + _varint(index) + _field(3, payload)))
    body = b"".join(_field(1, key.encode()) for key in table) + b"".join(records)
    return MAGIC + body + hashlib.md5(body, usedforsecurity=False).digest()


@dataclass(frozen=True)
class Aggregates:
    """Kinesis records to send: each aggregate, the partition key it is sent under, the CDRs it holds."""

    payloads: list[bytes]
    partition_keys: list[str]
    cdrs: list[int]


def _split(
    payloads: Sequence[bytes],
    partition_keys: Sequence[str],
    indices: Sequence[int],
    max_bytes: int,
    max_count: int,
) -> list[list[int]]:
    """`indices` in order, cut into groups whose aggregate stays within `max_bytes` (exactly as
    `aggregate` encodes it) and `max_count` records. A CDR too big on its own still gets a group (the
    producer refuses it as oversized and counts it)."""
    groups: list[list[int]] = []
    current: list[int] = []
    table: dict[str, int] = {}
    size = _FRAMING_BYTES
    for i in indices:
        key = partition_keys[i]
        index = table.get(key, len(table))
        added = sub_record_bytes(len(payloads[i]), index) + (key_entry_bytes(key) if key not in table else 0)
        if current and (size + added > max_bytes or len(current) == max_count):
            groups.append(current)
            current, table, size = [], {}, _FRAMING_BYTES
            index = 0
            added = sub_record_bytes(len(payloads[i]), 0) + key_entry_bytes(key)
        table.setdefault(key, index)
        current.append(i)
        size += added
    if current:
        groups.append(current)
    return groups


def _build(payloads: Sequence[bytes], partition_keys: Sequence[str], groups: list[list[int]]) -> Aggregates:
    out = Aggregates([], [], [])
    for group in groups:
        out.payloads.append(aggregate([payloads[i] for i in group], [partition_keys[i] for i in group]))
        # Sent under its first record's key, as the KPL does: every record of the group hashes to the
        # same shard, so the aggregate lands where each of its CDRs would have.
        out.partition_keys.append(partition_keys[group[0]])
        out.cdrs.append(len(group))
    return out


def aggregate_batch(
    payloads: Sequence[bytes], partition_keys: Sequence[str], records_per_aggregate: int
) -> tuple[list[bytes], list[str], list[int]]:
    """(aggregates, their partition keys, CDRs in each): consecutive groups of up to
    `records_per_aggregate` under MAX_AGGREGATE_BYTES, whatever shard each key hashes to (test records)."""
    groups = _split(
        payloads, partition_keys, range(len(payloads)), MAX_AGGREGATE_BYTES, records_per_aggregate
    )
    built = _build(payloads, partition_keys, groups)
    return built.payloads, built.partition_keys, built.cdrs


class KplPacker:
    """Packs a buffer of CDRs into KPL aggregates, one shard at a time.

    `shards`: the stream's open shards (ListShards), so CDRs of different keys that hash to the same shard
    share aggregates, as the KPL does. Without a shard map only CDRs of the same partition key share one
    (always correct, aggregates little with per-subscriber keys).
    """

    def __init__(
        self, shards: Sequence[ShardRange] | None, max_aggregate_bytes: int = MAX_AGGREGATE_BYTES
    ) -> None:
        self.max_aggregate_bytes = max_aggregate_bytes
        self._starts = [shard.starting_hash for shard in shards] if shards else []

    def group_of(self, partition_key: str) -> int | str:
        """The shard index the key hashes to, or the key itself without a shard map."""
        if not self._starts:
            return partition_key
        return max(bisect.bisect_right(self._starts, hash_key(partition_key)) - 1, 0)

    def pack(self, payloads: Sequence[bytes], partition_keys: Sequence[str]) -> Aggregates:
        """Every CDR in exactly one aggregate; within a shard the CDRs keep their order."""
        by_group: dict[int | str, list[int]] = {}
        for i, key in enumerate(partition_keys):
            by_group.setdefault(self.group_of(key), []).append(i)
        groups = [
            group
            for indices in by_group.values()
            for group in _split(payloads, partition_keys, indices, self.max_aggregate_bytes, len(indices))
        ]
        return _build(payloads, partition_keys, groups)


def check_aggregation(aggregation: str, max_buffered_ms: float, max_bytes: int) -> None:
    """The aggregation settings, checked the same way for the CLI, a profile and Locust's options."""
    if aggregation not in AGGREGATIONS:
        raise LoadConfigError(f"aggregation {aggregation!r} unknown; use one of {', '.join(AGGREGATIONS)}")
    if not 0 < max_buffered_ms <= MAX_BUFFERED_MS_LIMIT:
        raise LoadConfigError(
            f"max_buffered_ms {max_buffered_ms:g} must be within (0, {MAX_BUFFERED_MS_LIMIT:g}] ms "
            f"(the KPL's default is {DEFAULT_MAX_BUFFERED_MS:g})"
        )
    if not MIN_AGGREGATE_BYTES <= max_bytes <= MAX_AGGREGATE_BYTES:
        raise LoadConfigError(
            f"aggregation max bytes {max_bytes} must be within {MIN_AGGREGATE_BYTES}..{MAX_AGGREGATE_BYTES} "
            "(the 1 MiB record limit less room for the partition key)"
        )


def corrupt(aggregated: bytes) -> bytes:
    """The same aggregate with a wrong MD5: the pipeline must reject it as CORRUPT_AGGREGATE."""
    return aggregated[:-1] + bytes([aggregated[-1] ^ 0xFF])
