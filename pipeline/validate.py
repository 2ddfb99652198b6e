"""Validation of decoded wire fields into a `CanonicalCDR`, rejecting with an enumerated reason code."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
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
_new_cdr = tuple.__new__
# The wire fields to_canonical reads: the required ones first, in _REQUIRED order, then the optional ones.
_WIRE_FIELDS = (
    *_REQUIRED,
    "answer_time", "bytes_up", "bytes_down", "imsi", "imei", "sequence", "rat", "lac", "cdr_id",
    "cause_for_term", "last_partial", "roaming",
)  # fmt: skip


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


def _time(value: Any, name: str, offset_min: int, limits: Limits, required: bool = False) -> int | None:
    if type(value) is not str or not value:
        value = _str(value, name, required=required)  # an empty required time is a missing field
        if value is None:
            return None
    utc_ms = local_to_utc_ms(value, offset_min)
    if utc_ms is None:
        raise Rejected(ReasonCode.INVALID_TIMESTAMP, f"{name} is not an ISO-8601 time")
    now_ms = limits.now_ms
    if utc_ms > now_ms + limits.max_future_ms:
        raise Rejected(ReasonCode.TIMESTAMP_IN_FUTURE, f"{name} is {utc_ms - now_ms} ms ahead")
    if utc_ms < now_ms - limits.max_age_ms:
        raise Rejected(ReasonCode.TIMESTAMP_TOO_OLD, f"{name} is {now_ms - utc_ms} ms old")
    return utc_ms


def _cell(mcc: Any, mnc: Any, lac: Any, cell_id: Any) -> Cell:
    return Cell(
        _digits(mcc, "mcc", 3, 3),
        _digits(mnc, "mnc", 2, 3),
        None if lac is None else _int(lac, "lac"),
        _int(cell_id, "cell_id"),
    )


# Cells repeat in every batch (a few hundred per switch): one validated Cell per distinct raw tuple.
# typed=True keeps True/1/1.0 apart, which validation treats differently.
_cached_cell = lru_cache(maxsize=65_536, typed=True)(_cell)


def to_canonical(fields: Fields, source_format: str, limits: Limits) -> CanonicalCDR:
    """The canonical CDR of decoded `fields`; raises Rejected with the first problem found.

    Hot path (~every record): each check is inlined for the common well-typed value and falls back to
    the helper (which returns the lax value or raises the precise reason) only when it does not hold.
    """
    # One C-level pass over the wire fields (map of dict.get) instead of ~25 Python-level get calls.
    values = tuple(map(fields.get, _WIRE_FIELDS))
    required = values[: len(_REQUIRED)]
    (
        type_name, a_raw, b_raw, seizure_text, release_text, offset_text,
        duration_s, mcc, mnc, cell_id, msc_id, call_reference,
        answer_text, bytes_up, bytes_down, imsi, imei, sequence, rat, lac, cdr_id,
        cause_for_term, last_partial, roaming,
    ) = values  # fmt: skip
    if None in required:
        raise Rejected(ReasonCode.MISSING_FIELD, _REQUIRED[required.index(None)])
    record_type = _RECORD_TYPES.get(type_name) if type(type_name) is str else None
    if record_type is None:
        type_name = _str(type_name, "record_type", required=True)
        raise Rejected(ReasonCode.UNKNOWN_RECORD_TYPE, f"record_type {str(type_name)[:20]!r}")
    if type(a_raw) is not str or not a_raw:
        a_raw = _str(a_raw, "calling_number", required=True) or ""
    if type(b_raw) is not str or not b_raw:
        b_raw = _str(b_raw, "called_number", required=True) or ""
    region = limits.home_region
    a = _number(a_raw, "calling_number", region, record_type)
    b = _number(b_raw, "called_number", region, record_type)
    if type(offset_text) is not str or not offset_text:
        offset_text = _str(offset_text, "utc_offset", required=True) or ""
    offset_min = parse_utc_offset_min(offset_text)
    if offset_min is None:
        raise Rejected(ReasonCode.INVALID_TIMESTAMP, f"utc_offset {offset_text[:10]!r} is not ±HH:MM")
    seizure_ms = _time(seizure_text, "seizure_time", offset_min, limits, required=True)
    answer_ms = _time(answer_text, "answer_time", offset_min, limits)
    release_ms = _time(release_text, "release_time", offset_min, limits, required=True)
    assert seizure_ms is not None and release_ms is not None  # required: _time rejected them otherwise
    if release_ms < seizure_ms:
        raise Rejected(ReasonCode.END_BEFORE_START, "release_time before seizure_time")
    if answer_ms is not None and not seizure_ms <= answer_ms <= release_ms:
        raise Rejected(ReasonCode.END_BEFORE_START, "answer_time outside seizure..release")
    if type(duration_s) is not int:
        duration_s = _int(duration_s, "duration_s")
    if duration_s < 0:
        raise Rejected(ReasonCode.NEGATIVE_DURATION, f"duration_s {duration_s}")
    if type(bytes_up) is not int:
        bytes_up = _int(bytes_up, "bytes_up", 0)
    if type(bytes_down) is not int:
        bytes_down = _int(bytes_down, "bytes_down", 0)
    if bytes_up < 0 or bytes_down < 0:
        raise Rejected(ReasonCode.BAD_TYPE, "bytes_up/bytes_down must be non-negative")
    if type(msc_id) is not str or not msc_id:
        msc_id = _str(msc_id, "msc_id", required=True) or ""
    if type(call_reference) is not str or not call_reference:
        call_reference = _str(call_reference, "call_reference", required=True) or ""
    if type(sequence) is not int:
        sequence = _int(sequence, "sequence", 0)
    if rat is not None and rat not in _RATS:
        raise Rejected(ReasonCode.BAD_TYPE, f"rat {str(rat)[:10]!r} is not one of {', '.join(RATS)}")
    try:
        cell = _cached_cell(mcc, mnc, lac, cell_id)
    except TypeError:  # an unhashable wire value (list, dict): validate uncached for the precise reason
        cell = _cell(mcc, mnc, lac, cell_id)
    if type(cdr_id) is not str or not cdr_id:
        cdr_id = _str(cdr_id, "cdr_id") or derive_cdr_id(msc_id, call_reference, sequence)
    if len(cdr_id) > MAX_CDR_ID_CHARS:
        # The id becomes a DynamoDB key: an unbounded one would fail the whole transaction.
        raise Rejected(ReasonCode.INVALID_IDENTIFIER, f"cdr_id longer than {MAX_CDR_ID_CHARS} characters")
    if imsi is not None and imsi != "":
        imsi = _digits(imsi, "imsi", 6, 15)
    if imei is not None and imei != "":
        imei = _digits(imei, "imei", 14, 16)
    if type(cause_for_term) is not str or not cause_for_term:
        cause_for_term = _str(cause_for_term, "cause_for_term")
    if type(last_partial) is not bool:
        last_partial = _bool(last_partial, "last_partial", True)
    if type(roaming) is not bool:
        roaming = _bool(roaming, "roaming", False)
    # tuple.__new__ with one tuple: the NamedTuple's own __new__ would bind 29 arguments first.
    return _new_cdr(
        CanonicalCDR,
        (
            cdr_id,
            record_type,
            a_raw,
            a.number,
            a.kind,
            b_raw,
            b.number,
            b.kind,
            b.country,
            imsi or None,
            imei or None,
            seizure_ms,
            answer_ms,
            release_ms,
            offset_min,
            duration_s,
            answer_ms is not None,
            cause_for_term,
            cell,
            msc_id,
            call_reference,
            sequence,
            last_partial,
            roaming,
            bytes_up,
            bytes_down,
            rat,
            fields["schema_version"],
            source_format,
        ),
    )
