"""The fast path of JSON v1/v2 records: msgspec decodes and type-checks them in C into typed Structs.

A record the Structs accept is then checked by the same helpers `validate.to_canonical` uses, in the same
order, for what a type cannot say (numbers, times, cells, identifiers). Anything they do not accept
(a wrong type, a missing or unknown field, an empty string, a negative byte count, an integer beyond 64
bits, any JSON defect) is left to the per-field path, which names the exact reason code and the first failing
field: `canonical_json` returns None for it. Every constraint here is one the per-field path also
enforces, so both give the same CanonicalCDR for every record the fast path takes (property-tested in
tests/unit/test_pipeline_wire_json.py, byte-identical outputs checked on the benchmark batches).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Final, Literal

import msgspec

from pipeline.decode import INT64_MAX, INT64_MIN, Rejected
from pipeline.normalize import NormalizedNumber, fixed_local_ms, normalize_number, parse_utc_offset_min
from pipeline.schema import (
    JSON_RENAMED_V2,
    CanonicalCDR,
    Cell,
    NumberKind,
    ReasonCode,
    RecordType,
)
from pipeline.validate import (
    MAX_CDR_ID_CHARS,
    NATIVE_SOURCES,
    Limits,
    _cached_cell,
    _identifiers,
    _number,
    _times,
    serving_plmn,
)

_Text = Annotated[str, msgspec.Meta(min_length=1)]  # "" is MISSING_FIELD / null there: per-field path
_Int = Annotated[int, msgspec.Meta(ge=INT64_MIN, le=INT64_MAX)]
_Amount = Annotated[int, msgspec.Meta(ge=0, le=INT64_MAX)]  # bytes: BAD_TYPE otherwise
_CdrId = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]  # validate.MAX_CDR_ID_CHARS
_Rat = Literal["GERAN", "UTRAN", "EUTRAN", "NR", "WLAN"]  # schema.RATS


# validate._WIRE_FIELDS order (required first), each with its type and default; `rat` is read in v1 too.
_FIELDS: Final[list[tuple[str, Any] | tuple[str, Any, Any]]] = [
    ("record_type", RecordType),
    ("calling_number", _Text),
    ("called_number", _Text),
    ("seizure_time", _Text),
    ("release_time", _Text),
    ("utc_offset", _Text),
    ("duration_s", _Int),  # negative: NEGATIVE_DURATION, raised by _canonical where to_canonical does
    ("mcc", str),
    ("mnc", str),
    ("cell_id", _Int),
    ("msc_id", _Text),
    ("call_reference", _Text),
    ("answer_time", str | None, None),
    ("bytes_up", _Amount, 0),
    ("bytes_down", _Amount, 0),
    ("imsi", str | None, None),
    ("imei", str | None, None),
    ("sequence", _Int, 0),
    ("rat", _Rat | None, None),
    ("lac", _Int | None, None),
    ("cdr_id", _CdrId | None, None),
    ("cause_for_term", _Text | None, None),
    ("last_partial", bool, True),
    ("roaming", bool, False),
]


def _wire(version: int, rename: dict[str, str] | None = None, name: str = "Wire") -> type[msgspec.Struct]:
    # Unknown fields go to the per-field path: it reads v1 names in v2 records, `derived`, and so on.
    return msgspec.defstruct(
        f"{name}V{version}",
        _FIELDS,
        tag_field="schema_version",
        tag=version,
        rename=rename,
        forbid_unknown_fields=True,
    )


_WireV1 = _wire(1)
_WireV2 = _wire(2, JSON_RENAMED_V2)  # `calling_number` is `a_party` on the wire
_DECODER: Final = msgspec.json.Decoder(_WireV1 | _WireV2)
# The decoded fields of a CSV or Avro record name every field as v1 does, in both versions.
_FieldsV2 = _wire(2, name="Fields")
_FIELDS_TYPE: Final = _WireV1 | _FieldsV2
# The same Structs by the fields' schema_version: msgspec.convert of a dict to the tagged union costs ~5x
# the conversion to the one Struct its tag names (measured 5.5 vs 1.1 us a CDR), so we look the tag up.
_FIELDS_BY_VERSION: Final = {1: _WireV1, 2: _FieldsV2}
# What an input mapping (pipeline/mapping.py) fills: JSON v1 names, and the PLMN and cell, which a switch's
# layout does not carry, optional (validate.OPTIONAL_BEYOND_NATIVE; the parties too, but a missing party is
# rare and left to the per-field path). roaming stays None when absent: the serving PLMN may decide it.
_MAPPED_OPTIONAL: Final[dict[str, Any]] = {
    "mcc": str | None,
    "mnc": str | None,
    "cell_id": _Int | None,
    "roaming": bool | None,
}
_MAPPED: Final = msgspec.defstruct(
    "MappedV1",
    [(f[0], _MAPPED_OPTIONAL[f[0]], None) if f[0] in _MAPPED_OPTIONAL else f for f in _FIELDS],
    tag_field="schema_version",
    tag=1,  # mapping.MAPPED_SCHEMA_VERSION
    forbid_unknown_fields=True,  # `derived` and anything else: the per-field path
    kw_only=True,
)
_NOT_MAPPED: Final = frozenset({"ber", "kpl+ber"})  # decoded by pipeline/ber: its own `derived` list
_convert = msgspec.convert
_astuple = msgspec.structs.astuple
_ALPHANUMERIC: Final = NumberKind.ALPHANUMERIC
_SMS_TYPES: Final = frozenset({RecordType.SMS_MO, RecordType.SMS_MT})
_new_cdr = tuple.__new__


def takes(payload: bytes, max_record_bytes: int) -> bool:
    """Whether `canonical_json` may see `payload`: JSON that `decode.decode_payload` would not reject
    before parsing it (empty, oversized, NUL bytes, escaped NULs)."""
    return (
        payload[:1] == b"{"
        and len(payload) <= max_record_bytes
        and b"\x00" not in payload
        and b"\\u0000" not in payload
    )


def taken(payloads: Sequence[bytes], max_record_bytes: int) -> list[bool]:
    """`takes` of each payload: the NUL checks once over the batch's bytes when none holds a NUL (a
    substring of one payload is one of their concatenation): ~0.05 µs a record instead of ~0.6."""
    joined = b"".join(payloads)
    # memchr for a backslash first: CDRs rarely hold an escape, and a 6-byte search is ~5x slower
    if b"\x00" in joined or (b"\\" in joined and b"\\u0000" in joined):
        return [takes(payload, max_record_bytes) for payload in payloads]
    return [payload[:1] == b"{" and len(payload) <= max_record_bytes for payload in payloads]


def canonical_json(payload: bytes, source_format: str, limits: Limits) -> CanonicalCDR | None:
    """The canonical CDR of a JSON v1/v2 payload, or None when the per-field path must decide.

    Only for a payload `takes` accepts. Raises Rejected exactly where `validate.to_canonical` would.
    """
    try:
        wire = _DECODER.decode(payload)
    except (msgspec.DecodeError, UnicodeDecodeError):  # ValidationError is a DecodeError
        return None
    return _canonical(_astuple(wire), 1 if type(wire) is _WireV1 else 2, source_format, limits)


def canonical_fields(fields: dict[str, Any], source_format: str, limits: Limits) -> CanonicalCDR | None:
    """The canonical CDR of a native record's decoded fields (`decode.decode_payload`: CSV, Avro), or None
    when the per-field path must decide: msgspec converts the dict to the same Structs in C.

    Raises Rejected exactly where `validate.to_canonical` would.
    """
    if source_format not in NATIVE_SOURCES:
        return None if source_format in _NOT_MAPPED else _mapped(fields, source_format, limits)
    version = fields.get("schema_version")
    # an int (not a bool or float equal to one): what the union's tag would pick, else the union decides
    target = _FIELDS_BY_VERSION.get(version, _FIELDS_TYPE) if type(version) is int else _FIELDS_TYPE
    try:
        wire = _convert(fields, target)
    except msgspec.ValidationError:
        return None
    return _canonical(_astuple(wire), 1 if type(wire) is _WireV1 else 2, source_format, limits)


def _mapped(fields: dict[str, Any], source_format: str, limits: Limits) -> CanonicalCDR | None:
    """An input mapping's fields through the same Struct checks; its PLMN from the serving PLMN as
    validate._optional_fields takes it (a mapped record always misses a required field there)."""
    try:
        values = _astuple(_convert(fields, _MAPPED))
    except msgspec.ValidationError:
        return None
    derived: tuple[tuple[str, str], ...] = ()
    mcc, mnc, msc_id, imsi, roaming = values[7], values[8], values[10], values[15], values[23]
    if mcc is None or mnc is None:
        mcc, mnc, roaming, derived = serving_plmn(msc_id, imsi, roaming, limits)
    values = (*values[:7], mcc, mnc, *values[9:23], False if roaming is None else roaming)
    return _canonical(values, 1, source_format, limits, derived)


def _canonical(
    values: tuple[Any, ...],
    version: int,
    source_format: str,
    limits: Limits,
    derived: tuple[tuple[str, str], ...] = (),
) -> CanonicalCDR:
    (
        record_type, a_raw, b_raw, seizure_text, release_text, offset_text,
        duration_s, mcc, mnc, cell_id, msc_id, call_reference,
        answer_text, bytes_up, bytes_down, imsi, imei, sequence, rat, lac, cdr_id,
        cause_for_term, last_partial, roaming,
    ) = values  # fmt: skip
    # The remaining checks of to_canonical, in its order (the types, amounts, msc_id, call reference,
    # rat and flags are what the Struct already guarantees): the accepted case inline, with the same
    # cached lookups validate's helpers make; anything else calls the helper, which says exactly why.
    region = limits.home_region
    numbers = _NUMBERS.get(region) or _numbers_of(region)
    a = numbers.get(a_raw) or _normalized(numbers, a_raw, region)
    if a is None or (a.kind is _ALPHANUMERIC and record_type not in _SMS_TYPES):
        a = _number(a_raw, "calling_number", region, record_type)
    b = numbers.get(b_raw) or _normalized(numbers, b_raw, region)
    if b is None or (b.kind is _ALPHANUMERIC and record_type not in _SMS_TYPES):
        b = _number(b_raw, "called_number", region, record_type)
    # validate._times' result when every time is in the fixed format and passes its checks (inline: no
    # call and no result tuple per record); otherwise _times decides, and says why.
    offset_min = parse_utc_offset_min(offset_text)
    cached = _LOCAL_MS.get
    seizure_ms = cached(seizure_text) or _local_ms(seizure_text)
    release_ms = cached(release_text) or _local_ms(release_text)
    answer_ms = None
    if offset_min is None or seizure_ms is None or release_ms is None:
        times_ok = False
    else:
        shift_ms = offset_min * 60_000
        seizure_ms -= shift_ms
        release_ms -= shift_ms
        now_ms = limits.now_ms
        times_ok = now_ms - limits.max_age_ms <= seizure_ms <= release_ms <= now_ms + limits.max_future_ms
        if times_ok and answer_text is not None:
            answer_ms = (cached(answer_text) or _local_ms(answer_text)) if answer_text else None
            if answer_ms is None:
                times_ok = False
            else:
                answer_ms -= shift_ms
                times_ok = seizure_ms <= answer_ms <= release_ms
    if not times_ok:
        offset_min, seizure_ms, answer_ms, release_ms = _times(
            offset_text, seizure_text, answer_text, release_text, limits
        )
    if duration_s < 0:  # validate._amounts' first check, right after the times as there
        raise Rejected(ReasonCode.NEGATIVE_DURATION, f"duration_s {duration_s}")
    cell = _CELLS.get((mcc, mnc, lac, cell_id)) or _cell_of(mcc, mnc, lac, cell_id)
    derived_id = None
    if cdr_id is None:  # schema.derive_cdr_id, inline (a call per record)
        cdr_id = derived_id = f"{msc_id}:{call_reference}:{sequence}"
    # a cdr_id from the record is at most MAX_CDR_ID_CHARS (the Struct's _CdrId): only a derived one is
    # measured here
    if not (
        (derived_id is None or len(cdr_id) <= MAX_CDR_ID_CHARS)
        and (imsi is None or (imsi.isdigit() and 6 <= len(imsi) <= 15))
        and (imei is None or (imei.isdigit() and 14 <= len(imei) <= 16))
    ):  # a derived id too long, "" or a bad IMSI/IMEI: the helper decides, with the exact reason
        cdr_id, imsi, imei = _identifiers(cdr_id, msc_id, call_reference, sequence, imsi, imei)
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
            version,
            source_format,
            derived,
        ),
    )


# Plain dicts in front of normalize_number's and validate's LRU caches for what the Structs let through
# (text numbers; str, str, int, int cells: no True/1 to keep apart): one dict lookup instead of an LRU
# call building its key. Valid values only; bounded like the LRU caches.
_CACHE_MAX = 65_536
_NUMBERS: dict[str, dict[str, NormalizedNumber]] = {}
_CELLS: dict[tuple[str, str, int | None, int], Cell] = {}


def clear_caches() -> None:
    """Forget the cached numbers and cells (a benchmark's cold pass clears normalize_number's too)."""
    _NUMBERS.clear()
    _CELLS.clear()
    _LOCAL_MS.clear()


def _numbers_of(region: str) -> dict[str, NormalizedNumber]:
    return _NUMBERS.setdefault(region, {})


def _normalized(numbers: dict[str, NormalizedNumber], raw: str, region: str) -> NormalizedNumber | None:
    normalized = normalize_number(raw, region)
    if normalized is not None:
        if len(numbers) >= _CACHE_MAX:
            numbers.clear()
        numbers[raw] = normalized
    return normalized


def _cell_of(mcc: str, mnc: str, lac: int | None, cell_id: int) -> Cell:
    cell = _cached_cell(mcc, mnc, lac, cell_id)  # raises Rejected for an invalid cell
    if len(_CELLS) >= _CACHE_MAX:
        _CELLS.clear()
    _CELLS[(mcc, mnc, lac, cell_id)] = cell
    return cell


# Local epoch ms of fixed-format times seen lately: a batch's ~1,500 times share a few hundred seconds,
# and one dict lookup replaces local_to_utc_ms' slicing and cached minute parse (~0.3 µs a time).
_LOCAL_MS: dict[str, int] = {}
_LOCAL_MS_MAX = 16_384


def _local_ms(text: str) -> int | None:
    local_ms = fixed_local_ms(text)
    if local_ms is not None:
        if len(_LOCAL_MS) >= _LOCAL_MS_MAX:
            _LOCAL_MS.clear()
        _LOCAL_MS[text] = local_ms
    return local_ms
