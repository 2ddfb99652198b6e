"""Validation of decoded wire fields into a `CanonicalCDR`, rejecting with an enumerated reason code."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Final

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
    "cause_for_term", "last_partial", "roaming", "derived",
)  # fmt: skip
# Our own wire formats require every field of REQUIRED_JSON_FIELDS_V1. Other sources (3GPP BER, input
# mappings of VoIP switches) follow their own spec, which leaves these OPTIONAL: a missing one is null in
# the canonical record (or derived), never a reject.
NATIVE_SOURCES: Final = frozenset({"json", "csv", "avro", "kpl+json", "kpl+csv", "kpl+avro"})
OPTIONAL_BEYOND_NATIVE: Final = frozenset({"calling_number", "called_number", "mcc", "mnc", "cell_id"})
_AT: Final = {name: i for i, name in enumerate(_WIRE_FIELDS)}
_PLMN_INPUTS: Final = ("mcc", "mnc", "imsi", "msc_id", "roaming", "derived")
SERVING_PLMN_HOW: Final = "CDRCAP_SERVING_PLMN"
_UNKNOWN_NUMBER: Final = NormalizedNumber("", NumberKind.UNKNOWN, None)


@dataclass(frozen=True, slots=True)
class Limits:
    """The time window a CDR must fall into, fixed once per batch."""

    home_region: str
    now_ms: int
    max_future_ms: int
    max_age_ms: int
    # msc_id -> (mcc, mnc) the switch serves; key "" is the default (pipeline/config.py, docs/ber.md).
    serving_plmn: Mapping[str, tuple[str, str]] = field(default_factory=dict)


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


def _party(raw: Any, name: str, region: str, record_type: RecordType) -> tuple[str, NormalizedNumber]:
    """(raw, normalised) of one party. None comes only from a non-native source (see _optional_fields):
    the number is unknown there, not invalid."""
    if raw is None:
        return "", _UNKNOWN_NUMBER
    if type(raw) is not str or not raw:
        raw = _str(raw, name, required=True) or ""
    return raw, _number(raw, name, region, record_type)


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
    # None reaches here only from a non-native source (native records were rejected as MISSING_FIELD).
    return Cell(
        None if mcc is None else _digits(mcc, "mcc", 3, 3),
        None if mnc is None else _digits(mnc, "mnc", 2, 3),
        None if lac is None else _int(lac, "lac"),
        None if cell_id is None else _int(cell_id, "cell_id"),
    )


def _derived_pairs(value: Any) -> tuple[tuple[str, str], ...]:
    """The decoder's own `derived` list ([field, how] pairs) as a tuple of pairs."""
    if value is None:
        return ()
    try:
        return tuple((str(name), str(how)) for name, how in value)
    except (TypeError, ValueError):
        raise Rejected(ReasonCode.BAD_TYPE, "derived must be a list of [field, how] pairs") from None


def _optional_fields(
    required: tuple[Any, ...], values: tuple[Any, ...], source_format: str, limits: Limits
) -> tuple[Any, Any, Any, tuple[tuple[str, str], ...]]:
    """(mcc, mnc, roaming, derived) of a record with a missing field or a decoder's `derived` list.

    Native sources keep their contract (first missing field -> MISSING_FIELD; a `derived` key on the
    wire is not ours and is ignored). Other sources may leave out OPTIONAL_BEYOND_NATIVE; a missing PLMN
    is the switch's configured serving PLMN when there is one, and roaming is then decided from it.
    """
    mcc, mnc, imsi, msc_id, roaming, derived_wire = (values[_AT[name]] for name in _PLMN_INPUTS)
    for name, value in zip(_REQUIRED, required, strict=True):
        if value is None and (source_format in NATIVE_SOURCES or name not in OPTIONAL_BEYOND_NATIVE):
            raise Rejected(ReasonCode.MISSING_FIELD, name)
    if source_format in NATIVE_SOURCES:
        return mcc, mnc, roaming, ()
    derived = _derived_pairs(derived_wire)
    if mcc is None or mnc is None:
        mcc, mnc, roaming, serving = serving_plmn(msc_id, imsi, roaming, limits)
        derived += serving
    return mcc, mnc, roaming, derived


def serving_plmn(
    msc_id: Any, imsi: Any, roaming: Any, limits: Limits
) -> tuple[str | None, str | None, Any, tuple[tuple[str, str], ...]]:
    """(mcc, mnc, roaming, derived) of a non-native record without its PLMN: the switch's configured
    serving PLMN when there is one (roaming then decided from the IMSI when the record does not say)."""
    plmn = limits.serving_plmn.get(msc_id) if type(msc_id) is str else None
    plmn = plmn or limits.serving_plmn.get("")
    if plmn is None:
        return None, None, roaming, ()
    mcc, mnc = plmn
    derived: tuple[tuple[str, str], ...] = (("mcc", SERVING_PLMN_HOW), ("mnc", SERVING_PLMN_HOW))
    if roaming is None and type(imsi) is str and imsi:
        roaming = not imsi.startswith(mcc + mnc)
        derived += (("roaming", "IMSI vs " + SERVING_PLMN_HOW),)
    return mcc, mnc, roaming, derived


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
        cause_for_term, last_partial, roaming, derived_wire,
    ) = values  # fmt: skip
    derived: tuple[tuple[str, str], ...] = ()
    if None in required or derived_wire is not None:  # rare: native records carry every required field
        mcc, mnc, roaming, derived = _optional_fields(required, values, source_format, limits)
    record_type = _RECORD_TYPES.get(type_name) if type(type_name) is str else None
    if record_type is None:
        type_name = _str(type_name, "record_type", required=True)
        raise Rejected(ReasonCode.UNKNOWN_RECORD_TYPE, f"record_type {str(type_name)[:20]!r}")
    region = limits.home_region
    a_raw, a = _party(a_raw, "calling_number", region, record_type)
    b_raw, b = _party(b_raw, "called_number", region, record_type)
    offset_min, seizure_ms, answer_ms, release_ms = _times(
        offset_text, seizure_text, answer_text, release_text, limits
    )
    duration_s, bytes_up, bytes_down = _amounts(duration_s, bytes_up, bytes_down)
    msc_id, call_reference, sequence = _origin(msc_id, call_reference, sequence, rat)
    try:
        cell = _cached_cell(mcc, mnc, lac, cell_id)
    except TypeError:  # an unhashable wire value (list, dict): validate uncached for the precise reason
        cell = _cell(mcc, mnc, lac, cell_id)
    cdr_id, imsi, imei = _identifiers(cdr_id, msc_id, call_reference, sequence, imsi, imei)
    cause_for_term, last_partial, roaming = _flags(cause_for_term, last_partial, roaming)
    # tuple.__new__ with one tuple: the NamedTuple's own __new__ would bind 30 arguments first.
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
            derived,
        ),
    )


# The named steps of to_canonical, in the order the record's fields are checked (the first failing field
# names the reject). Each keeps the inlined fast check for the common well-typed value.


def _times(
    offset_text: Any, seizure_text: Any, answer_text: Any, release_text: Any, limits: Limits
) -> tuple[int, int, int | None, int]:
    """(UTC offset in minutes, seizure, answer, release in UTC ms), in order."""
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
    return offset_min, seizure_ms, answer_ms, release_ms


def _amounts(duration_s: Any, bytes_up: Any, bytes_down: Any) -> tuple[int, int, int]:
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
    return duration_s, bytes_up, bytes_down


def _origin(msc_id: Any, call_reference: Any, sequence: Any, rat: Any) -> tuple[str, str, int]:
    """The switch, its call reference and the partial-record sequence; the radio access type checked."""
    if type(msc_id) is not str or not msc_id:
        msc_id = _str(msc_id, "msc_id", required=True) or ""
    if type(call_reference) is not str or not call_reference:
        call_reference = _str(call_reference, "call_reference", required=True) or ""
    if type(sequence) is not int:
        sequence = _int(sequence, "sequence", 0)
    if rat is not None and (type(rat) is not str or rat not in _RATS):  # a list is unhashable
        raise Rejected(ReasonCode.BAD_TYPE, f"rat {str(rat)[:10]!r} is not one of {', '.join(RATS)}")
    return msc_id, call_reference, sequence


def _identifiers(
    cdr_id: Any, msc_id: str, call_reference: str, sequence: int, imsi: Any, imei: Any
) -> tuple[str, Any, Any]:
    if type(cdr_id) is not str or not cdr_id:
        cdr_id = _str(cdr_id, "cdr_id") or derive_cdr_id(msc_id, call_reference, sequence)
    if len(cdr_id) > MAX_CDR_ID_CHARS:
        # The id becomes a DynamoDB key: an unbounded one would fail the whole transaction.
        raise Rejected(ReasonCode.INVALID_IDENTIFIER, f"cdr_id longer than {MAX_CDR_ID_CHARS} characters")
    if imsi is not None and imsi != "":
        imsi = _digits(imsi, "imsi", 6, 15)
    if imei is not None and imei != "":
        imei = _digits(imei, "imei", 14, 16)
    return cdr_id, imsi, imei


def _flags(cause_for_term: Any, last_partial: Any, roaming: Any) -> tuple[str | None, bool, bool]:
    if type(cause_for_term) is not str or not cause_for_term:
        cause_for_term = _str(cause_for_term, "cause_for_term")
    if type(last_partial) is not bool:
        last_partial = _bool(last_partial, "last_partial", True)
    if type(roaming) is not bool:
        roaming = _bool(roaming, "roaming", False)
    return cause_for_term, last_partial, roaming
