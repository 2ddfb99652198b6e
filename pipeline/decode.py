"""Payload decoding: sniff the format (JSON, KPL aggregate, GSR-framed Avro, CSV) and return the wire fields
of one CDR.

The result is a dict keyed by the v1 JSON field names (v2's renamed fields are mapped back), values as
the wire gave them (CSV cells converted to int/bool by column); `validate` checks and types them.
"""

from __future__ import annotations

import csv
from typing import TYPE_CHECKING, Any, Final

import orjson

from pipeline.gsr import HEADER_VERSION, GsrFramingError, looks_framed, unframe
from pipeline.kpl import is_aggregate
from pipeline.schema import CSV_COLUMNS, JSON_RENAMED_V2, SUPPORTED_SCHEMA_VERSIONS, ReasonCode

if TYPE_CHECKING:
    from pipeline.avro_cdr import AvroDecoder
    from pipeline.mapping import MappingSet

Fields = dict[str, Any]

INT_FIELDS = frozenset(
    {"schema_version", "duration_s", "lac", "cell_id", "sequence", "bytes_up", "bytes_down"}
)
BOOL_FIELDS = frozenset({"last_partial", "roaming"})
_TRUE = frozenset({"1", "true", "TRUE", "True"})
_FALSE = frozenset({"0", "false", "FALSE", "False"})
_V2_TO_V1 = {new: old for old, new in JSON_RENAMED_V2.items()}
# Counters must survive orjson (64-bit) and DynamoDB numbers: a wider integer is a type error, not a crash.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# Per CSV version: (v1 field name, wire column name when the column is typed else None).
_CSV_LAYOUTS = {
    version: tuple(
        (_V2_TO_V1.get(name, name), name if name in INT_FIELDS or name in BOOL_FIELDS else None)
        for name in columns
    )
    for version, columns in CSV_COLUMNS.items()
}


class Rejected(Exception):
    """A record that cannot become a canonical CDR; it goes to the DLQ with `reason`."""

    def __init__(self, reason: ReasonCode, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def sniff(payload: bytes) -> str:
    """ "kpl", "avro" (Glue Schema Registry framing), "json" or "csv" from the first bytes."""
    if is_aggregate(payload):
        return "kpl"
    if looks_framed(payload):
        return "avro"
    if payload.lstrip()[:1] == b"{":
        return "json"
    return "csv"


def decode_payload(
    payload: bytes,
    max_record_bytes: int,
    mappings: MappingSet | None = None,
    avro: AvroDecoder | None = None,
) -> tuple[str, Fields]:
    """(source format, fields) of one non-aggregated payload; raises Rejected.

    `mappings` (CDRCAP_INPUT_MAPPINGS) are tried only where a native format would reject the record, so a
    native record decodes, and a bad one is rejected, exactly as without them. `avro` decodes records with
    Glue Schema Registry framing; without it they are rejected as of an unknown schema version."""
    if not payload:
        raise Rejected(ReasonCode.EMPTY_RECORD, "payload is empty")
    if len(payload) > max_record_bytes:
        raise Rejected(ReasonCode.OVERSIZED_RECORD, f"{len(payload)} bytes > {max_record_bytes}")
    # GSR framing (gsr.looks_framed, inlined): binary, NUL bytes are normal, so before the text checks.
    if payload[0] == HEADER_VERSION:
        if avro is None:
            try:
                version_id = unframe(payload).schema_version_id
            except GsrFramingError as exc:
                raise Rejected(ReasonCode.GSR_FRAMING_ERROR, str(exc)) from None
            raise Rejected(
                ReasonCode.GSR_UNKNOWN_SCHEMA_VERSION, f"schema version {version_id}: no schema registry"
            )
        return "avro", avro.decode(payload)
    if b"\x00" in payload:
        raise Rejected(ReasonCode.BAD_ENCODING, "payload contains NUL bytes")
    # "{" first is by far the common case and can be neither KPL (magic F3 89 9A C2) nor CSV.
    if payload[:1] == b"{" or sniff(payload) == "json":
        if b"\\u0000" in payload:  # a JSON-escaped NUL is the same defect once decoded
            raise Rejected(ReasonCode.BAD_ENCODING, "payload contains an escaped NUL")
        return _decode_json(payload, mappings)
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Rejected(ReasonCode.BAD_ENCODING, f"not UTF-8 at byte {exc.start}") from None
    return _decode_csv(text, mappings)


def decode_taken_json(payload: bytes, mappings: MappingSet | None) -> tuple[str, Fields]:
    """`decode_payload` of a payload `wire_json.takes` accepts: JSON whose checks before parsing (empty,
    oversized, NUL bytes, escaped NULs) have passed, so it goes straight to parsing."""
    return _decode_json(payload, mappings)


def _decode_json(payload: bytes, mappings: MappingSet | None = None) -> tuple[str, Fields]:
    try:
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        reason = ReasonCode.BAD_ENCODING if "utf-8" in str(exc).lower() else ReasonCode.MALFORMED_PAYLOAD
        raise Rejected(reason, f"invalid JSON: {str(exc)[:120]}") from None
    if not isinstance(doc, dict):
        raise Rejected(ReasonCode.MALFORMED_PAYLOAD, "JSON payload is not an object")
    version = doc.get("schema_version")
    if version is None:
        if mappings is not None:
            return mappings.decode_json(doc)
        raise Rejected(ReasonCode.MISSING_FIELD, "schema_version")
    if type(version) is not int:
        raise Rejected(
            ReasonCode.BAD_TYPE, f"schema_version must be an integer, got {type(version).__name__}"
        )
    if version not in SUPPORTED_SCHEMA_VERSIONS:
        raise Rejected(ReasonCode.UNKNOWN_SCHEMA_VERSION, f"schema_version {version}")
    if version == 2:
        for new, old in _V2_TO_V1.items():
            if new in doc:
                doc[old] = doc.pop(new)
    return "json", doc


def _cell(name: str, cell: str) -> Any:
    if cell == "":
        return None
    if name in INT_FIELDS:
        try:
            value = int(cell)
        except ValueError:
            raise Rejected(ReasonCode.BAD_TYPE, f"{name} must be an integer, got {cell[:40]!r}") from None
        if not INT64_MIN <= value <= INT64_MAX:
            raise Rejected(ReasonCode.BAD_TYPE, f"{name} does not fit 64 bits")
        return value
    if name in BOOL_FIELDS:
        if cell in _TRUE:
            return True
        if cell in _FALSE:
            return False
        raise Rejected(ReasonCode.BAD_TYPE, f"{name} must be 0 or 1, got {cell[:40]!r}")
    return cell


class _OneLine:
    """An iterator of one line at a time under a csv reader kept for the process: a line's cells without
    a reader object and a list built per record (~0.4 µs). The reader resets its state at every record and
    asks for a line only while one is incomplete, so it parses each line exactly as a fresh reader of
    `[line]` does (property-tested in tests/unit/test_pipeline_decode.py). Not for threads: a handler
    process decodes one batch at a time (Lambda, the local stack's worker processes)."""

    __slots__ = ("line",)

    def __init__(self) -> None:
        self.line: str | None = None

    def __iter__(self) -> _OneLine:
        return self

    def __next__(self) -> str:
        line = self.line
        if line is None:
            raise StopIteration
        self.line = None
        return line


_ONE_LINE: Final = _OneLine()
_LINE_READER: Final = csv.reader(_ONE_LINE)


def csv_cells(line: str) -> list[str]:
    """The cells of one CSV line (quoted cells unquoted), as `next(csv.reader([line]))`."""
    _ONE_LINE.line = line
    return next(_LINE_READER)


def _decode_csv(text: str, mappings: MappingSet | None = None) -> tuple[str, Fields]:
    line = text.rstrip("\r\n")
    try:
        cells = csv_cells(line) if '"' in line else line.split(",")
    except csv.Error as exc:  # e.g. a quote followed by an embedded newline
        raise Rejected(ReasonCode.MALFORMED_PAYLOAD, f"CSV: {exc}") from None
    head = cells[0].strip()
    columns = CSV_COLUMNS.get(int(head)) if head.isdigit() else None
    if head == "schema_version" and any(tuple(cells) == names for names in CSV_COLUMNS.values()):
        # A CSV file shipped line by line (a log agent tailing it) may start with its header line.
        raise Rejected(ReasonCode.HEADER_LINE, "the header line of a CSV file (column names), not a CDR")
    if mappings is not None and (columns is None or len(cells) != len(columns)):
        # A switch's layout may well start with digits (an account code): not ours unless it fits ours.
        return mappings.decode_csv(cells)
    if not head.isdigit():
        raise Rejected(ReasonCode.MALFORMED_PAYLOAD, "neither JSON, KPL nor CSV with a schema version first")
    version = int(head)
    if columns is None:
        raise Rejected(ReasonCode.UNKNOWN_SCHEMA_VERSION, f"schema_version {version}")
    if len(cells) != len(columns):
        raise Rejected(
            ReasonCode.MALFORMED_PAYLOAD, f"CSV v{version} needs {len(columns)} columns, got {len(cells)}"
        )
    # Text columns (most of them) are taken as they are; only typed ones go through _cell.
    fields = {
        key: (None if cell == "" else cell) if typed is None else _cell(typed, cell)
        for (key, typed), cell in zip(_CSV_LAYOUTS[version], cells, strict=True)
    }
    fields["schema_version"] = version
    return "csv", fields
