"""The Kinesis event as the handler sees it: one unit per CDR payload, KPL aggregates expanded.

Units are kept in parallel lists (no object per record) in Kinesis order: record order, then
sub-sequence. A unit's position "<shard>/<sequence>/<sub-sequence>" identifies it across re-deliveries.
"""

from __future__ import annotations

import binascii
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from itertools import compress, repeat
from operator import itemgetter, methodcaller, mul, not_
from typing import Any, Final, TypedDict

from pybase64 import b64decode

from pipeline import ber
from pipeline.gsr import HEADER_VERSION
from pipeline.kpl import KplError, deaggregate, is_aggregate
from pipeline.schema import ReasonCode

_GSR_FIRST_BYTE = bytes((HEADER_VERSION,))


class KinesisData(TypedDict, total=False):
    data: str
    sequenceNumber: str
    partitionKey: str
    approximateArrivalTimestamp: float


class KinesisEventRecord(TypedDict, total=False):
    kinesis: KinesisData
    eventID: str  # "shardId-000000000000:<sequence number>"
    eventSourceARN: str


@dataclass(slots=True)
class Units:
    shard_id: list[str] = field(default_factory=list)
    sequence_number: list[str] = field(default_factory=list)
    sub_sequence: list[int | None] = field(default_factory=list)
    partition_key: list[str] = field(default_factory=list)
    arrival_ms: list[int] = field(default_factory=list)
    payload: list[bytes] = field(default_factory=list)
    is_kpl: list[bool] = field(default_factory=list)
    # A unit decided at expansion time (corrupt aggregate, undecodable base64): (reason, detail).
    early_reject: dict[int, tuple[ReasonCode, str]] = field(default_factory=dict)
    # A unit already decoded at expansion time (a BER CDR): (source format, wire fields).
    pre_decoded: dict[int, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    # File-level findings that are not records (e.g. a 32.297 header reporting lost CDRs), for logs.
    notices: list[str] = field(default_factory=list)
    event_source_arn: str = ""

    def __len__(self) -> int:
        return len(self.payload)

    def position(self, index: int) -> str:
        sub = self.sub_sequence[index]
        return f"{self.shard_id[index]}/{self.sequence_number[index]}/{'' if sub is None else sub}"

    def positions(self) -> list[str]:
        """`position(i)` of every unit, in one pass."""
        return [
            f"{shard}/{seq}/{'' if sub is None else sub}"
            for shard, seq, sub in zip(self.shard_id, self.sequence_number, self.sub_sequence, strict=True)
        ]

    def _add(
        self, shard: str, seq: str, sub: int | None, key: str, arrival: int, data: bytes, kpl: bool
    ) -> int:
        self.shard_id.append(shard)
        self.sequence_number.append(seq)
        self.sub_sequence.append(sub)
        self.partition_key.append(key)
        self.arrival_ms.append(arrival)
        self.payload.append(data)
        self.is_kpl.append(kpl)
        return len(self.payload) - 1


def expand(event: dict[str, Any], home_region: str = "US") -> Units:
    """The units of a Kinesis event, KPL aggregates and 32.297 BER chunks expanded into their CDRs."""
    units = Units()
    records = event.get("Records") or ()
    # The record-level fields column by column (maps in C: no per-record Python step); a run of plain
    # records is then appended to the unit lists by slices, and only a record that becomes something else
    # (a KPL aggregate, BER, a reject) takes the per-record way.
    shards, seqs, keys, arrivals, datas = _columns(records)
    units.event_source_arn = next(
        (arn for arn in (str(record.get("eventSourceARN", "")) for record in records) if arn), ""
    )
    payloads = _payloads(datas)  # per record: its decoded payload, None when it is not base64
    plain_from = 0  # the first record of the current run of plain records
    for r in _maybe_not_plain(payloads):
        payload = payloads[r]
        if payload is None:
            _append_plain(units, shards, seqs, keys, arrivals, payloads, plain_from, r)
            index = units._add(shards[r], seqs[r], None, keys[r], arrivals[r], b"", False)
            units.early_reject[index] = (ReasonCode.MALFORMED_PAYLOAD, "record data is not base64")
            payloads[r] = b""
            plain_from = r + 1
            continue
        # Plain JSON is neither BER nor KPL, and skips the BER sniff (~1.5 µs): JSON's "{" is no BER tag,
        # and as a 32.297 file header its octets 4-7 give a header length above the payload's size
        # unless octet 4 is NUL (or the payload is >= 16 MiB).
        if payload[:1] == b"{" and payload[4:5] != b"\x00" and len(payload) < 1 << 24:
            continue
        # GSR framing (byte 0 = 3) is never a 32.297 file (its length would start at 48 MiB), though a
        # schema version id whose bytes 2-5 are 0, 0, 0, n reads as a plausible header length after it.
        if payload[:1] != _GSR_FIRST_BYTE and ber.looks_like_ber(payload):
            _append_plain(units, shards, seqs, keys, arrivals, payloads, plain_from, r)
            _expand_ber(units, shards[r], seqs[r], keys[r], arrivals[r], payload, home_region)
            plain_from = r + 1
        elif is_aggregate(payload):
            _append_plain(units, shards, seqs, keys, arrivals, payloads, plain_from, r)
            _expand_kpl(units, shards[r], seqs[r], keys[r], arrivals[r], payload)
            plain_from = r + 1
    _append_plain(units, shards, seqs, keys, arrivals, payloads, plain_from, len(payloads))
    return units


_KINESIS, _EVENT_ID, _FIRST = itemgetter("kinesis"), itemgetter("eventID"), itemgetter(0)
_SEQUENCE, _KEY = itemgetter("sequenceNumber"), itemgetter("partitionKey")
_ARRIVAL, _DATA = itemgetter("approximateArrivalTimestamp"), itemgetter("data")
_Columns = tuple[list[str], list[str], list[str], list[int], list[Any]]


def _columns(records: Any) -> _Columns:
    """(shard ids, sequence numbers, partition keys, arrival ms, base64 data) of the records: by maps in C
    when every record carries every field; any missing or odd one takes the per-record way, which fills
    in the defaults (and raises where it always did)."""
    try:
        kinesis = list(map(_KINESIS, records))
        shards = list(map(_FIRST, map(methodcaller("partition", ":"), map(str, map(_EVENT_ID, records)))))
        if "" in shards:
            shards = [shard or "shardId-unknown" for shard in shards]
        seqs = list(map(str, map(_SEQUENCE, kinesis)))
        keys = list(map(str, map(_KEY, kinesis)))
        arrivals = list(map(int, map(mul, map(float, map(_ARRIVAL, kinesis)), repeat(1000))))
        return shards, seqs, keys, arrivals, list(map(_DATA, kinesis))
    except (KeyError, TypeError, AttributeError):
        pass
    kinesis = [record.get("kinesis") or {} for record in records]
    return (
        [str(record.get("eventID", "")).split(":", 1)[0] or "shardId-unknown" for record in records],
        [str(data.get("sequenceNumber", "")) for data in kinesis],
        [str(data.get("partitionKey", "")) for data in kinesis],
        [int(float(data.get("approximateArrivalTimestamp", 0.0)) * 1000) for data in kinesis],
        [data.get("data", "") for data in kinesis],
    )


# pybase64 (SIMD, validating): ~4x faster than binascii on a CDR; what it refuses is decided by binascii's
# strict mode as before (what pybase64 accepts, strict mode accepts with the same bytes:
# tests/unit/test_pipeline_fast_paths.py).
_B64DECODE: Final = partial(b64decode, validate=True)


def _payloads(datas: list[Any]) -> list[bytes | None]:
    """Each record's payload, base64-decoded; None for data that is not base64."""
    try:
        return list(map(_B64DECODE, datas))  # every record valid: one map in C
    except (binascii.Error, ValueError, TypeError):
        pass
    payloads: list[bytes | None] = []
    a2b_base64 = binascii.a2b_base64
    for data in datas:
        try:
            payload = b64decode(data, validate=True)
        except (binascii.Error, ValueError, TypeError):
            try:
                payload = a2b_base64(data, strict_mode=True)
            except (binascii.Error, ValueError):
                payload = None
        payloads.append(payload)
    return payloads


def _maybe_not_plain(payloads: list[bytes | None]) -> Sequence[int]:
    """The records that may not be plain JSON, in order. A payload is plain JSON when it starts with "{",
    its octet 4 is not NUL and it is under 16 MiB (see `expand`): when no payload holds a NUL and none is
    that large, that is each payload's first byte alone, tested in C."""
    if None in payloads:
        return range(len(payloads))
    decoded: list[bytes] = payloads  # type: ignore[assignment]
    if max(map(len, decoded), default=0) < 1 << 24 and b"\x00" not in b"".join(decoded):
        starts_json = map(bytes.startswith, decoded, repeat(b"{"))
        return list(compress(range(len(decoded)), map(not_, starts_json)))
    return range(len(decoded))


def _append_plain(
    units: Units,
    shards: list[str],
    seqs: list[str],
    keys: list[str],
    arrivals: list[int],
    payloads: list[Any],  # bytes (None only at rejected records, never in a plain run)
    start: int,
    stop: int,
) -> None:
    """One unit per record of `start`..`stop` (plain records: one CDR each), appended by slices."""
    if start < stop:
        units.shard_id += shards[start:stop]
        units.sequence_number += seqs[start:stop]
        units.sub_sequence += [None] * (stop - start)
        units.partition_key += keys[start:stop]
        units.arrival_ms += arrivals[start:stop]
        units.payload += payloads[start:stop]
        units.is_kpl += [False] * (stop - start)


def _expand_kpl(units: Units, shard: str, seq: str, key: str, arrival_ms: int, payload: bytes) -> None:
    """One unit per sub-record of a KPL aggregate; a corrupt aggregate is one rejected unit."""
    try:
        subs = deaggregate(payload)
    except KplError as exc:
        index = units._add(shard, seq, None, key, arrival_ms, payload, True)
        units.early_reject[index] = (ReasonCode.CORRUPT_AGGREGATE, str(exc))
        return
    for sub_index, sub in enumerate(subs):
        units._add(shard, seq, sub_index, sub.partition_key, arrival_ms, sub.data, True)


def _expand_ber(
    units: Units, shard: str, seq: str, key: str, arrival_ms: int, payload: bytes, home_region: str
) -> None:
    """One unit per CDR of a BER record or 32.297 chunk; a corrupt CDR is rejected alone."""
    results = ber.decode_ber(payload, home_region=home_region, received_ms=arrival_ms or None)
    per_cdr = [r for r in results if r.index != ber.FILE_LEVEL_INDEX]
    file_level = [r for r in results if isinstance(r, ber.BerRejected) and r.is_file_level]
    if not per_cdr:
        # Nothing decodable inside: the Kinesis record itself goes to the DLQ with the file-level reason.
        index = units._add(shard, seq, None, key, arrival_ms, payload, False)
        reason, detail = (
            (file_level[0].reason, file_level[0].detail)
            if file_level
            else (ReasonCode.BER_DECODE_ERROR, "no CDR found in the BER payload")
        )
        units.early_reject[index] = (reason, detail)
        return
    units.notices.extend(f"{shard}/{seq}: {r.reason}: {r.detail}" for r in file_level)
    single = len(per_cdr) == 1 and per_cdr[0].index == 0 and not file_level
    for result in per_cdr:
        sub = None if single else result.index
        index = units._add(shard, seq, sub, key, arrival_ms, payload, False)
        if isinstance(result, ber.BerRejected):
            units.early_reject[index] = (result.reason, f"CDR {result.index} of the chunk: {result.detail}")
        else:
            units.pre_decoded[index] = ("ber", ber.to_wire_fields(result.fields))
