"""Wire shapes leaving the handler: enriched CDR lines (output stream + archive) and DLQ messages."""

from __future__ import annotations

import base64
import gzip
import time
from collections.abc import Mapping, Sequence
from functools import lru_cache
from operator import itemgetter
from typing import Any, Final, TypedDict

import msgspec
import orjson

from pipeline.aws_limits import DLQ_MAX_MESSAGE_BYTES
from pipeline.events import Units
from pipeline.schema import CanonicalCDR, Cell, ReasonCode

# The raw payload bytes a DLQ message carries: 4 KiB left for the envelope, base64 turns 3 bytes into 4.
_DLQ_PAYLOAD_BUDGET = (DLQ_MAX_MESSAGE_BYTES - 4096) * 3 // 4
# Every field but the last (`derived`): zip stops at the shorter, so the document gets `derived` only
# when a value was derived, and native records keep the exact bytes they had before it existed.
_DOCUMENT_FIELDS = CanonicalCDR._fields[:-1]
assert CanonicalCDR._fields[-1] == "derived"


class DlqMessage(TypedDict):
    reason: str
    detail: str
    shard_id: str
    sequence_number: str
    sub_sequence_number: int | None  # the index inside a KPL aggregate, None for a plain record
    partition_key: str
    approximate_arrival_ms: int
    event_source_arn: str
    payload_b64: str
    payload_bytes: int
    payload_truncated: bool
    dedup_key: str  # the unit's position: the same across re-deliveries


@lru_cache(maxsize=65_536)
def _cell_document(cell: Cell) -> dict[str, Any]:
    return cell._asdict()  # shared between lines of the same cell: only ever serialised, never mutated


def cdr_document(cdr: CanonicalCDR) -> dict[str, Any]:
    """The CDR as a JSON object: field name -> value, enums as their strings, the cell as an object."""
    document: dict[str, Any] = dict(zip(_DOCUMENT_FIELDS, cdr))  # noqa: B905 - `derived` left out on purpose
    # orjson serialises an Enum through its `value` property (a Python call, ~0.8 µs each);
    # `_value_` is the plain attribute behind it.
    document["record_type"] = cdr.record_type._value_
    document["a_number_kind"] = cdr.a_number_kind._value_
    document["b_number_kind"] = cdr.b_number_kind._value_
    document["cell"] = _cell_document(cdr.cell)
    if cdr.derived:
        document["derived"] = dict(cdr.derived)
    return document


def _enriched_document(
    cdr: CanonicalCDR, position: str, arrival_ms: int, fraud_rules: Mapping[str, tuple[str, ...]]
) -> dict[str, Any]:
    document = {
        "dedup_key": cdr.cdr_id,
        "position": position,
        "arrival_ms": arrival_ms,
        "cdr": cdr_document(cdr),
    }
    matched = fraud_rules.get(cdr.cdr_id)
    if matched:  # only on CDRs that matched a rule: most lines stay as small as before
        document["fraud_rules"] = list(matched)
    return document


def enriched_line(cdr: CanonicalCDR, position: str, arrival_ms: int) -> bytes:
    """One NDJSON line: the canonical CDR plus where it came from; `dedup_key` is the cdr_id."""
    return orjson.dumps(_enriched_document(cdr, position, arrival_ms, {}))


# The batch's documents as msgspec Structs, encoded by one msgspec call: a Struct is built from the CDR's
# tuple in C (no 29-entry dict per line) and msgspec writes each StrEnum's value without the Python-level
# `value` property orjson calls. Same fields in the same order as `cdr_document` / `_enriched_document`
# (`derived` and `fraud_rules` only when present) and the same JSON bytes: checked over every Unicode
# code point and the 64-bit integer edges, and line for line against `enriched_line` in the tests.
_CELL_AT: Final = CanonicalCDR._fields.index("cell")
_DERIVED_AT: Final = CanonicalCDR._fields.index("derived")
_DERIVED: Final = itemgetter(_DERIVED_AT)
_CdrDocument: Any = msgspec.defstruct(
    "CdrDocument",
    [*((name, Any) for name in _DOCUMENT_FIELDS), ("derived", Any, msgspec.UNSET)],
    omit_defaults=True,
)


class _LineDocument(msgspec.Struct, omit_defaults=True):
    dedup_key: str
    position: str
    arrival_ms: int
    cdr: Any
    fraud_rules: Any = msgspec.UNSET


_ENCODER: Final = msgspec.json.Encoder()


def enriched_lines(
    cdrs: Sequence[CanonicalCDR],
    positions: Sequence[str],
    arrival_ms: Sequence[int],
    fraud_rules: Mapping[str, tuple[str, ...]] | None = None,
) -> list[bytes]:
    """`enriched_line` of each CDR, from ONE encoder call for the batch, split back into lines."""
    return enriched_batch(cdrs, positions, arrival_ms, fraud_rules)[0]


def enriched_batch(
    cdrs: Sequence[CanonicalCDR],
    positions: Sequence[str],
    arrival_ms: Sequence[int],
    fraud_rules: Mapping[str, tuple[str, ...]] | None = None,
) -> tuple[list[bytes], bytes]:
    """(`enriched_lines`, the archive's NDJSON: the same lines, each followed by a newline).

    Why one call: a kept per-line result was over-allocated and shrunk with realloc, ~3 µs per line in
    heap growth, ~8x the serialisation itself. One `encode_lines` + split on newlines costs ~0.9 µs per
    line (one `encode` of the list + split on `,{"dedup_key":` + the prefix put back: ~1.1). The encoder's
    output is the NDJSON itself: the archive takes it as it is instead of joining the lines again (two
    copies of ~430 KB a batch, ~0.1 µs per CDR).
    """
    if not cdrs:
        return [], b"\n"
    rules = fraud_rules or {}
    cell_at, derived_at = _CELL_AT, _DERIVED_AT
    # Built column-wise by map in C (no Python-level step per line): the CDRs transposed into their
    # fields' columns, the cell column replaced by the cached cell documents, `derived` left out.
    if not len(cdrs) == len(positions) == len(arrival_ms):
        raise ValueError("enriched_lines: one position and one arrival time per CDR")
    columns = list(zip(*cdrs))  # noqa: B905 - every CDR has every field
    cells = map(_cell_document, columns[cell_at])
    cdr_documents = map(_CdrDocument, *columns[:cell_at], cells, *columns[cell_at + 1 : derived_at])
    documents = list(map(_LineDocument, columns[0], positions, arrival_ms, cdr_documents))
    if rules or any(map(_DERIVED, cdrs)):  # rare: only what a rule matched or a value was derived on
        for cdr, line in zip(cdrs, documents, strict=True):
            if cdr.derived:
                line.cdr.derived = dict(cdr.derived)
            matched = rules.get(cdr[0]) if rules else None
            if matched:
                line.fraud_rules = list(matched)
    try:
        # NDJSON: a newline after each document (JSON text never holds a raw one), split on it by memchr
        encoded = _ENCODER.encode_lines(documents)
    except (UnicodeEncodeError, TypeError, OverflowError):  # orjson says what is wrong with the value
        encoded = b""
    parts = encoded.split(b"\n")
    parts.pop()  # after the last newline
    if len(parts) != len(documents):  # cannot happen but for the error above; never emit a mis-split line
        lines = [
            orjson.dumps(_enriched_document(c, p, a, rules))
            for c, p, a in zip(cdrs, positions, arrival_ms, strict=True)
        ]
        return lines, b"\n".join(lines) + b"\n"
    return parts, encoded


def dlq_message(units: Units, index: int, reason: ReasonCode, detail: str) -> bytes:
    payload = units.payload[index]
    truncated = len(payload) > _DLQ_PAYLOAD_BUDGET
    message: DlqMessage = {
        "reason": reason.value,
        "detail": detail,  # the DLQ holds the payload anyway; scrubbing is for logs
        "shard_id": units.shard_id[index],
        "sequence_number": units.sequence_number[index],
        "sub_sequence_number": units.sub_sequence[index],
        "partition_key": units.partition_key[index],
        "approximate_arrival_ms": units.arrival_ms[index],
        "event_source_arn": units.event_source_arn,
        "payload_b64": base64.b64encode(payload[:_DLQ_PAYLOAD_BUDGET]).decode(),
        "payload_bytes": len(payload),
        "payload_truncated": truncated,
        "dedup_key": units.position(index),
    }
    return orjson.dumps(message)


def archive_key(units: Units, indices: Sequence[int]) -> str:
    """Deterministic per (shard, first, last sequence): a retry of the same records overwrites it."""
    first, last = indices[0], indices[-1]
    hour = time.strftime("%Y/%m/%d/%H", time.gmtime(units.arrival_ms[first] // 1000))
    return (
        f"cdr/{hour}/{units.shard_id[first]}/"
        f"{units.sequence_number[first]}-{units.sequence_number[last]}.ndjson.gz"
    )


# Measured on the benchmark batches (docs/benchmarks.md, "Archive gzip level"): levels 1-3 are zlib's fast
# strategy and cost the same CPU (~1.5 µs per CDR), level 3 writes 11 % fewer bytes than 1 (38.9 vs 43.5 per
# CDR); from level 4 on (the lazy strategy) the CPU doubles.
ARCHIVE_GZIP_LEVEL = 3


def archive_body(lines: Sequence[bytes]) -> bytes:
    """The archive object of the batch's lines (`archive_gzip` of their NDJSON)."""
    return archive_gzip(b"\n".join(lines) + b"\n")


def archive_gzip(ndjson: bytes) -> bytes:
    """One gzip call for the batch's NDJSON; mtime=0: identical records give identical bytes, so an
    overwrite is a no-op."""
    return gzip.compress(ndjson, compresslevel=ARCHIVE_GZIP_LEVEL, mtime=0)
