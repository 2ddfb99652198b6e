"""Validation of decoded wire fields into a `CanonicalCDR`, rejecting with an enumerated reason code."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.decode import Fields, Rejected
from pipeline.normalize import NormalizedNumber, local_to_utc_ms, normalize_number, parse_utc_offset_min
from pipeline.schema import (
    RATS,
    REQUIRED_JSON_FIELDS_V1,
    CanonicalCDR,
    Cell,
    NumberKind,
    ReasonCode,
    RecordType,
    derive_cdr_id,
)

MAX_CDR_ID_CHARS = 256
_RECORD_TYPES = {t.value: t for t in RecordType}
_SMS_TYPES = frozenset({RecordType.SMS_MO, RecordType.SMS_MT})
_REQUIRED = tuple(f for f in REQUIRED_JSON_FIELDS_V1 if f != "schema_version")


@dataclass(frozen=True, slots=True)
class Limits:
    """The time window a CDR must fall into, fixed once per batch."""

    home_region: str
    now_ms: int
    max_future_ms: int
    max_age_ms: int


def _str(fields: Fields, name: str, *, required: bool = False) -> str | None:
    value = fields.get(name)
    if value is None or value == "":
        if required:
            raise Rejected(ReasonCode.MISSING_FIELD, name)
        return None
    if type(value) is not str:
        raise Rejected(ReasonCode.BAD_TYPE, f"{name} must be a string, got {type(value).__name__}")
    return value


def _int(fields: Fields, name: str, default: int | None = None) -> int:
    value = fields.get(name)
    if value is None:
        if default is None:
            raise Rejected(ReasonCode.MISSING_FIELD, name)
        return default
    if type(value) is not int:
        # An integral float (e.g. 12.0 from a lax producer) is accepted; anything else is a type error.
        if type(value) is float and value.is_integer():
            return int(value)
        raise Rejected(ReasonCode.BAD_TYPE, f"{name} must be an integer, got {type(value).__name__}")
    return value


def _bool(fields: Fields, name: str, default: bool) -> bool:
    value = fields.get(name)
    if value is None:
        return default
    if type(value) is bool:
        return value
    if value in (0, 1):
        return bool(value)
    raise Rejected(ReasonCode.BAD_TYPE, f"{name} must be a boolean, got {type(value).__name__}")


def _digits(value: Any, name: str, lengths: range) -> str:
    text = str(value) if type(value) is int else value
    if type(text) is not str or not text.isdigit() or len(text) not in lengths:
        raise Rejected(
            ReasonCode.INVALID_IDENTIFIER, f"{name} must be {lengths.start}-{lengths.stop - 1} digits"
        )
    return text


def _number(raw: str, name: str, region: str, record_type: RecordType) -> NormalizedNumber:
    normalized = normalize_number(raw, region)
    if normalized is None or (normalized.kind is NumberKind.ALPHANUMERIC and record_type not in _SMS_TYPES):
        raise Rejected(ReasonCode.INVALID_PHONE_NUMBER, f"{name} is not a valid number for region {region}")
    return normalized


def _time(fields: Fields, name: str, offset_min: int, limits: Limits) -> int | None:
    text = _str(fields, name)
    if text is None:
        return None
    utc_ms = local_to_utc_ms(text, offset_min)
    if utc_ms is None:
        raise Rejected(ReasonCode.INVALID_TIMESTAMP, f"{name} is not an ISO-8601 time")
    if utc_ms > limits.now_ms + limits.max_future_ms:
        raise Rejected(ReasonCode.TIMESTAMP_IN_FUTURE, f"{name} is {utc_ms - limits.now_ms} ms ahead")
    if utc_ms < limits.now_ms - limits.max_age_ms:
        raise Rejected(ReasonCode.TIMESTAMP_TOO_OLD, f"{name} is {limits.now_ms - utc_ms} ms old")
    return utc_ms


def to_canonical(fields: Fields, source_format: str, limits: Limits) -> CanonicalCDR:
    """The canonical CDR of decoded `fields`; raises Rejected with the first problem found."""
    for name in _REQUIRED:
        if fields.get(name) is None:
            raise Rejected(ReasonCode.MISSING_FIELD, name)
    type_name = _str(fields, "record_type", required=True)
    record_type = _RECORD_TYPES.get(type_name or "")
    if record_type is None:
        raise Rejected(ReasonCode.UNKNOWN_RECORD_TYPE, f"record_type {str(type_name)[:20]!r}")
    a_raw = _str(fields, "calling_number", required=True) or ""
    b_raw = _str(fields, "called_number", required=True) or ""
    a = _number(a_raw, "calling_number", limits.home_region, record_type)
    b = _number(b_raw, "called_number", limits.home_region, record_type)
    offset_text = _str(fields, "utc_offset", required=True) or ""
    offset_min = parse_utc_offset_min(offset_text)
    if offset_min is None:
        raise Rejected(ReasonCode.INVALID_TIMESTAMP, f"utc_offset {offset_text[:10]!r} is not ±HH:MM")
    seizure_ms = _time(fields, "seizure_time", offset_min, limits)
    answer_ms = _time(fields, "answer_time", offset_min, limits)
    release_ms = _time(fields, "release_time", offset_min, limits)
    assert seizure_ms is not None and release_ms is not None  # required fields checked above
    if release_ms < seizure_ms:
        raise Rejected(ReasonCode.END_BEFORE_START, "release_time before seizure_time")
    if answer_ms is not None and not seizure_ms <= answer_ms <= release_ms:
        raise Rejected(ReasonCode.END_BEFORE_START, "answer_time outside seizure..release")
    duration_s = _int(fields, "duration_s")
    if duration_s < 0:
        raise Rejected(ReasonCode.NEGATIVE_DURATION, f"duration_s {duration_s}")
    bytes_up = _int(fields, "bytes_up", 0)
    bytes_down = _int(fields, "bytes_down", 0)
    if bytes_up < 0 or bytes_down < 0:
        raise Rejected(ReasonCode.BAD_TYPE, "bytes_up/bytes_down must be non-negative")
    imsi = fields.get("imsi")
    imei = fields.get("imei")
    msc_id = _str(fields, "msc_id", required=True) or ""
    call_reference = _str(fields, "call_reference", required=True) or ""
    sequence = _int(fields, "sequence", 0)
    rat = _str(fields, "rat")
    if rat is not None and rat not in RATS:
        raise Rejected(ReasonCode.BAD_TYPE, f"rat {rat[:10]!r} is not one of {', '.join(RATS)}")
    lac = fields.get("lac")
    cell = Cell(
        mcc=_digits(fields["mcc"], "mcc", range(3, 4)),
        mnc=_digits(fields["mnc"], "mnc", range(2, 4)),
        lac=None if lac is None else _int(fields, "lac"),
        cell_id=_int(fields, "cell_id"),
    )
    cdr_id = _str(fields, "cdr_id") or derive_cdr_id(msc_id, call_reference, sequence)
    if len(cdr_id) > MAX_CDR_ID_CHARS:
        # The id becomes a DynamoDB key: an unbounded one would fail the whole transaction.
        raise Rejected(ReasonCode.INVALID_IDENTIFIER, f"cdr_id longer than {MAX_CDR_ID_CHARS} characters")
    return CanonicalCDR(
        cdr_id=cdr_id,
        record_type=record_type,
        a_number_raw=a_raw,
        a_number=a.number,
        a_number_kind=a.kind,
        b_number_raw=b_raw,
        b_number=b.number,
        b_number_kind=b.kind,
        b_country=b.country,
        imsi=None if imsi in (None, "") else _digits(imsi, "imsi", range(6, 16)),
        imei=None if imei in (None, "") else _digits(imei, "imei", range(14, 17)),
        seizure_utc_ms=seizure_ms,
        answer_utc_ms=answer_ms,
        release_utc_ms=release_ms,
        utc_offset_min=offset_min,
        duration_s=duration_s,
        answered=answer_ms is not None,
        cause_for_term=_str(fields, "cause_for_term"),
        cell=cell,
        msc_id=msc_id,
        call_reference=call_reference,
        partial_sequence=sequence,
        last_partial=_bool(fields, "last_partial", True),
        roaming=_bool(fields, "roaming", False),
        bytes_up=bytes_up,
        bytes_down=bytes_down,
        rat=rat,
        schema_version=int(fields["schema_version"]),
        source_format=source_format,
    )
