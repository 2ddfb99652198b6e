"""Validation of decoded wire fields into a `CanonicalCDR`, rejecting with an enumerated reason code."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.decode import INT64_MAX, INT64_MIN, Fields, Rejected
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
_RATS = frozenset(RATS)
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


def _str(value: Any, name: str, *, required: bool = False) -> str | None:
    if type(value) is str and value:  # the common case first: one type check, no further calls
        return value
    if value is None or value == "":
        if required:
            raise Rejected(ReasonCode.MISSING_FIELD, name)
        return None
    raise Rejected(ReasonCode.BAD_TYPE, f"{name} must be a string, got {type(value).__name__}")


def _int(value: Any, name: str, default: int | None = None) -> int:
    if type(value) is int:
        return value
    if value is None:
        if default is None:
            raise Rejected(ReasonCode.MISSING_FIELD, name)
        return default
    # An integral float (e.g. 12.0 from a lax producer) is accepted; anything else is a type error.
    if type(value) is float and value.is_integer() and INT64_MIN <= value <= INT64_MAX:
        return int(value)
    raise Rejected(ReasonCode.BAD_TYPE, f"{name} must be an integer, got {type(value).__name__}")


def _bool(value: Any, name: str, default: bool) -> bool:
    if type(value) is bool:
        return value
    if value is None:
        return default
    if value in (0, 1):
        return bool(value)
    raise Rejected(ReasonCode.BAD_TYPE, f"{name} must be a boolean, got {type(value).__name__}")


def _digits(value: Any, name: str, shortest: int, longest: int) -> str:
    text = str(value) if type(value) is int else value
    if type(text) is not str or not text.isdigit() or not shortest <= len(text) <= longest:
        raise Rejected(ReasonCode.INVALID_IDENTIFIER, f"{name} must be {shortest}-{longest} digits")
    return text


def _number(raw: str, name: str, region: str, record_type: RecordType) -> NormalizedNumber:
    normalized = normalize_number(raw, region)
    if normalized is None or (normalized.kind is NumberKind.ALPHANUMERIC and record_type not in _SMS_TYPES):
        raise Rejected(ReasonCode.INVALID_PHONE_NUMBER, f"{name} is not a valid number for region {region}")
    return normalized


def _time(value: Any, name: str, offset_min: int, limits: Limits) -> int | None:
    text = _str(value, name)
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
    get = fields.get
    for name in _REQUIRED:
        if get(name) is None:
            raise Rejected(ReasonCode.MISSING_FIELD, name)
    type_name = _str(get("record_type"), "record_type", required=True)
    record_type = _RECORD_TYPES.get(type_name or "")
    if record_type is None:
        raise Rejected(ReasonCode.UNKNOWN_RECORD_TYPE, f"record_type {str(type_name)[:20]!r}")
    a_raw = _str(get("calling_number"), "calling_number", required=True) or ""
    b_raw = _str(get("called_number"), "called_number", required=True) or ""
    a = _number(a_raw, "calling_number", limits.home_region, record_type)
    b = _number(b_raw, "called_number", limits.home_region, record_type)
    offset_text = _str(get("utc_offset"), "utc_offset", required=True) or ""
    offset_min = parse_utc_offset_min(offset_text)
    if offset_min is None:
        raise Rejected(ReasonCode.INVALID_TIMESTAMP, f"utc_offset {offset_text[:10]!r} is not ±HH:MM")
    seizure_ms = _time(get("seizure_time"), "seizure_time", offset_min, limits)
    answer_ms = _time(get("answer_time"), "answer_time", offset_min, limits)
    release_ms = _time(get("release_time"), "release_time", offset_min, limits)
    assert seizure_ms is not None and release_ms is not None  # required fields checked above
    if release_ms < seizure_ms:
        raise Rejected(ReasonCode.END_BEFORE_START, "release_time before seizure_time")
    if answer_ms is not None and not seizure_ms <= answer_ms <= release_ms:
        raise Rejected(ReasonCode.END_BEFORE_START, "answer_time outside seizure..release")
    duration_s = _int(get("duration_s"), "duration_s")
    if duration_s < 0:
        raise Rejected(ReasonCode.NEGATIVE_DURATION, f"duration_s {duration_s}")
    bytes_up = _int(get("bytes_up"), "bytes_up", 0)
    bytes_down = _int(get("bytes_down"), "bytes_down", 0)
    if bytes_up < 0 or bytes_down < 0:
        raise Rejected(ReasonCode.BAD_TYPE, "bytes_up/bytes_down must be non-negative")
    imsi = get("imsi")
    imei = get("imei")
    msc_id = _str(get("msc_id"), "msc_id", required=True) or ""
    call_reference = _str(get("call_reference"), "call_reference", required=True) or ""
    sequence = _int(get("sequence"), "sequence", 0)
    rat = get("rat")
    if rat is not None and rat not in _RATS:
        raise Rejected(ReasonCode.BAD_TYPE, f"rat {str(rat)[:10]!r} is not one of {', '.join(RATS)}")
    lac = get("lac")
    cell = Cell(
        _digits(get("mcc"), "mcc", 3, 3),
        _digits(get("mnc"), "mnc", 2, 3),
        None if lac is None else _int(lac, "lac"),
        _int(get("cell_id"), "cell_id"),
    )
    cdr_id = _str(get("cdr_id"), "cdr_id") or derive_cdr_id(msc_id, call_reference, sequence)
    if len(cdr_id) > MAX_CDR_ID_CHARS:
        # The id becomes a DynamoDB key: an unbounded one would fail the whole transaction.
        raise Rejected(ReasonCode.INVALID_IDENTIFIER, f"cdr_id longer than {MAX_CDR_ID_CHARS} characters")
    return CanonicalCDR(
        cdr_id,
        record_type,
        a_raw,
        a.number,
        a.kind,
        b_raw,
        b.number,
        b.kind,
        b.country,
        None if imsi is None or imsi == "" else _digits(imsi, "imsi", 6, 15),
        None if imei is None or imei == "" else _digits(imei, "imei", 14, 16),
        seizure_ms,
        answer_ms,
        release_ms,
        offset_min,
        duration_s,
        answer_ms is not None,
        _str(get("cause_for_term"), "cause_for_term"),
        cell,
        msc_id,
        call_reference,
        sequence,
        _bool(get("last_partial"), "last_partial", True),
        _bool(get("roaming"), "roaming", False),
        bytes_up,
        bytes_down,
        rat,
        fields["schema_version"],
        source_format,
    )
