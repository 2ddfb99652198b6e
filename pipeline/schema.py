"""The canonical CDR, the wire formats that decode to it, and the reasons a record is rejected.

Every input format (JSON v1/v2, CSV v1/v2, Avro v1/v2 with Glue Schema Registry framing, KPL-aggregated,
BER) decodes to `CanonicalCDR`.
The load generator writes the same formats from the constants below, so producer and consumer agree.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final, NamedTuple


class RecordType(StrEnum):
    MOC = "MOC"  # mobile-originated call
    MTC = "MTC"  # mobile-terminated call
    SMS_MO = "SMS_MO"
    SMS_MT = "SMS_MT"
    DATA = "DATA"  # packet-data session (PGW)
    FORWARD = "FORWARD"  # call forwarding


class ReasonCode(StrEnum):
    """Why a record went to the dead-letter queue. Stable strings: dashboards and `cdrcap verify` use them."""

    EMPTY_RECORD = "EMPTY_RECORD"
    OVERSIZED_RECORD = "OVERSIZED_RECORD"
    BAD_ENCODING = "BAD_ENCODING"  # not valid UTF-8 / contains NUL
    MALFORMED_PAYLOAD = "MALFORMED_PAYLOAD"  # not parseable JSON / CSV / BER
    CORRUPT_AGGREGATE = "CORRUPT_AGGREGATE"  # a KPL aggregate whose framing or checksum is wrong
    UNKNOWN_SCHEMA_VERSION = "UNKNOWN_SCHEMA_VERSION"
    MISSING_FIELD = "MISSING_FIELD"
    BAD_TYPE = "BAD_TYPE"
    UNKNOWN_RECORD_TYPE = "UNKNOWN_RECORD_TYPE"
    INVALID_PHONE_NUMBER = "INVALID_PHONE_NUMBER"
    INVALID_IDENTIFIER = "INVALID_IDENTIFIER"  # IMSI / IMEI / MCC-MNC not digits of the right length
    NEGATIVE_DURATION = "NEGATIVE_DURATION"
    END_BEFORE_START = "END_BEFORE_START"
    TIMESTAMP_IN_FUTURE = "TIMESTAMP_IN_FUTURE"
    TIMESTAMP_TOO_OLD = "TIMESTAMP_TOO_OLD"
    INVALID_TIMESTAMP = "INVALID_TIMESTAMP"  # unparseable or out of the calendar
    DUPLICATE_CDR = "DUPLICATE_CDR"  # same cdr_id already accounted for from another Kinesis record
    BER_DECODE_ERROR = "BER_DECODE_ERROR"  # a TS 32.298 CDR whose ASN.1 BER does not decode
    BER_FRAMING_ERROR = "BER_FRAMING_ERROR"  # a TS 32.297 file/CDR header with bad lengths or format
    LOST_CDRS = "LOST_CDRS"  # a TS 32.297 file header reports CDRs lost upstream (not a record of ours)
    UNMAPPED_LAYOUT = "UNMAPPED_LAYOUT"  # not a native format and no configured input mapping matches it
    HEADER_LINE = "HEADER_LINE"  # a CSV file's header (its column names) shipped as a record: not a CDR
    # Avro with Glue Schema Registry framing (pipeline/gsr.py, pipeline/avro_cdr.py):
    GSR_FRAMING_ERROR = "GSR_FRAMING_ERROR"  # byte 0 is 3 but the header is short/wrong or zlib fails
    GSR_UNKNOWN_SCHEMA_VERSION = "GSR_UNKNOWN_SCHEMA_VERSION"  # the registry has no such schema version id
    AVRO_DECODE_ERROR = "AVRO_DECODE_ERROR"  # the Avro bytes do not decode with the writer's schema


class NumberKind(StrEnum):
    E164 = "E164"
    SHORT_CODE = "SHORT_CODE"
    EMERGENCY = "EMERGENCY"
    PREMIUM_RATE = "PREMIUM_RATE"  # valid E.164 but of premium-rate type
    ALPHANUMERIC = "ALPHANUMERIC"  # SMS sender ids such as "BANK"
    UNKNOWN = "UNKNOWN"  # the source does not carry the number (a 32.298 OPTIONAL field left out)


SUPPORTED_SCHEMA_VERSIONS: Final = (1, 2)

# JSON wire fields. v2 renames `calling_number` -> `a_party` and adds `rat` (radio access technology).
# Times are ISO-8601 local times of the switch without offset; `utc_offset` ("+05:30") says which zone.
JSON_FIELDS_V1: Final = (
    "schema_version",
    "cdr_id",  # optional: derived from msc_id + call_reference + sequence when absent
    "record_type",
    "calling_number",
    "called_number",
    "imsi",
    "imei",
    "seizure_time",
    "answer_time",  # null when unanswered
    "release_time",
    "utc_offset",
    "duration_s",  # 3GPP callDuration: chargeable time if answered, holding time if not
    "cause_for_term",
    "mcc",
    "mnc",
    "lac",
    "cell_id",
    "msc_id",
    "call_reference",
    "sequence",  # partial-record sequence number, 0 for a complete record
    "last_partial",  # true on the last (or only) partial record
    "roaming",
    "bytes_up",
    "bytes_down",
)
JSON_RENAMED_V2: Final = {"calling_number": "a_party"}
JSON_ADDED_V2: Final = ("rat",)
JSON_FIELDS_V2: Final = tuple(JSON_RENAMED_V2.get(f, f) for f in JSON_FIELDS_V1) + JSON_ADDED_V2
REQUIRED_JSON_FIELDS_V1: Final = (
    "schema_version",
    "record_type",
    "calling_number",
    "called_number",
    "seizure_time",
    "release_time",
    "utc_offset",
    "duration_s",
    "mcc",
    "mnc",
    "cell_id",
    "msc_id",
    "call_reference",
)

# CSV: one CDR per line, the columns of the JSON fields of that version in the same order, the schema
# version first so the decoder can pick the layout. Empty cell = null; booleans are 0/1.
CSV_COLUMNS: Final = {1: JSON_FIELDS_V1, 2: JSON_FIELDS_V2}

# Radio access technologies accepted in v2 `rat`.
RATS: Final = ("GERAN", "UTRAN", "EUTRAN", "NR", "WLAN")


# Cell and CanonicalCDR are NamedTuples, not frozen dataclasses: equally immutable, but built by one
# tuple allocation (~0.3 µs) instead of 29 object.__setattr__ calls (~4-9 µs per record, the largest
# single cost of validation; see docs/benchmarks.md "Profiling"). Build them by keyword or position.
class Cell(NamedTuple):
    mcc: str | None  # None: a source without PLMN (32.298 mCC-MNC absent, a VoIP switch) and none derived
    mnc: str | None
    lac: int | None  # LAC (2G/3G) or TAC (4G/5G)
    cell_id: int | None  # None: the source has no location (a VoIP switch, a 32.298 record without it)


class CanonicalCDR(NamedTuple):
    """One call/SMS/data event after decode + validate + normalise. Times are UTC epoch milliseconds."""

    cdr_id: str
    record_type: RecordType
    # "" (and kind UNKNOWN) only from a source where the number is optional (a 32.298 record without it)
    a_number_raw: str
    a_number: str  # E.164 ("+14155550100") or the short/emergency code as dialled
    a_number_kind: NumberKind
    b_number_raw: str
    b_number: str
    b_number_kind: NumberKind
    b_country: str | None  # ISO alpha-2 of the destination, None for short codes
    imsi: str | None
    imei: str | None
    seizure_utc_ms: int
    answer_utc_ms: int | None
    release_utc_ms: int
    utc_offset_min: int  # the switch's original offset, e.g. +330 for +05:30
    duration_s: int  # 3GPP callDuration meaning (see `answered`)
    answered: bool
    cause_for_term: str | None
    cell: Cell
    msc_id: str
    call_reference: str
    partial_sequence: int
    last_partial: bool
    roaming: bool
    bytes_up: int
    bytes_down: int
    rat: str | None
    schema_version: int
    source_format: str  # "json", "csv", "avro", "kpl+json", "ber", an input mapping's name, ...
    # (field, how) for every value the pipeline derived instead of reading it (docs/ber.md "Derived").
    # Last on purpose: the output document leaves it out when empty, so native records stay byte-identical.
    derived: tuple[tuple[str, str], ...] = ()


def derive_cdr_id(msc_id: str, call_reference: str, partial_sequence: int) -> str:
    """Deterministic id when the source gives none: recording entity + call reference + sequence."""
    return f"{msc_id}:{call_reference}:{partial_sequence}"
