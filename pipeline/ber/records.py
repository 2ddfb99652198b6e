"""Map decoded 32.298 records (pycrate values: dicts of field name -> value) to canonical CDR fields.

One function per supported CHOICE alternative of CSRecord / GPRSRecord. The output is the CanonicalCDR
field set before phone normalisation: raw numbers, UTC epoch ms, flat cell fields (mcc, mnc, lac, cell_id).
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Callable
from typing import Any, Final, TypeVar

from pipeline.ber import fields as f
from pipeline.ber.errors import BerFieldError
from pipeline.schema import ReasonCode, RecordType, derive_cdr_id

Value = dict[str, Any]
T = TypeVar("T")
BER_SCHEMA_VERSION: Final = 2  # the v2 canonical field set: it carries `rat`
SOURCE_FORMAT: Final = "ber"

# CauseForTerm (CS) / CauseForRecClosing (PS) values after which more partial records follow.
_PARTIAL_CAUSES_CS: Final = frozenset({1, 2})  # partialRecord, partialRecordCallReestablishment
_FINAL_CAUSES_PS: Final = frozenset({0, 4, 5, 52, 53, 54, 58})  # normal/abnormal/CAMEL release, LCS failures
CAUSE_FOR_TERM: Final = {
    0: "normalRelease",
    1: "partialRecord",
    2: "partialRecordCallReestablishment",
    3: "unsuccessfulCallAttempt",
    4: "abnormalRelease",
    5: "cAMELInitCallRelease",
    52: "unauthorizedRequestingNetwork",
    53: "unauthorizedLCSClient",
    54: "positionMethodFailure",
    58: "unknownOrUnreachableLCSClient",
}
CAUSE_FOR_REC_CLOSING: Final = {
    **{k: v for k, v in CAUSE_FOR_TERM.items() if k not in (2, 3)},
    16: "volumeLimit",
    17: "timeLimit",
    18: "servingNodeChange",
    19: "maxChangeCond",
    20: "managementIntervention",
    21: "intraSGSNIntersystemChange",
    22: "rATChange",
    23: "mSTimeZoneChange",
    24: "sGSNPLMNIDChange",
    25: "sGWChange",
    26: "aPNAMBRChange",
    27: "mOExceptionDataCounterReceipt",
    59: "listofDownstreamNodeChange",
}
# RATType (29.274 / 29.061) -> the canonical `rat` names of pipeline.schema.RATS.
_RAT_TYPES: Final = {1: "UTRAN", 2: "GERAN", 3: "WLAN", 6: "EUTRAN", 8: "EUTRAN", 10: "NR"}
_SYSTEM_TYPES: Final = {"iuUTRAN": "UTRAN", "gERAN": "GERAN"}


def _required(record: Value, name: str) -> Any:
    if name not in record:
        raise BerFieldError(f"mandatory field {name} is absent", reason=ReasonCode.MISSING_FIELD)
    return record[name]


def _field(record: Value, name: str, decode: Callable[[Any], T]) -> T | None:
    """Decode an optional field; a malformed one is rejected with its name (never its value: PII)."""
    if name not in record:
        return None
    try:
        return decode(record[name])
    except BerFieldError as exc:
        raise BerFieldError(f"{name}: {exc.detail}", reason=exc.reason) from None


def _must(record: Value, name: str, decode: Callable[[Any], T]) -> T:
    """Decode a mandatory field (MISSING_FIELD when absent)."""
    value = _field(record, name, decode)
    if value is None:
        raise BerFieldError(f"mandatory field {name} is absent", reason=ReasonCode.MISSING_FIELD)
    return value


def _address(raw: bytes) -> str:
    return f.decode_address(raw).number


def _tp_address(raw: bytes) -> str:
    return f.decode_tp_address(raw).number


def _gsn_address(value: Any) -> str:
    """GSNAddress / IPAddress CHOICE (binary or text, v4 or v6, nested) -> printable address."""
    while isinstance(value, tuple):
        value = value[1]
    if isinstance(value, bytes) and len(value) in (4, 16):
        return str(ipaddress.ip_address(value))
    if isinstance(value, str):
        return value
    raise BerFieldError("GSN address is neither a 4/16-octet binary nor a text address")


def _is_roaming(imsi: str | None, mcc: str | None, mnc: str | None) -> bool | None:
    """Roaming when the serving PLMN is not the subscriber's home PLMN (the IMSI's MCC+MNC); None when the
    record has no serving PLMN (validation derives it from CDRCAP_SERVING_PLMN and decides then)."""
    if mcc is None or mnc is None:
        return None
    return imsi is not None and not imsi.startswith(mcc + mnc)


def _common(
    record: Value,
    record_type: RecordType,
    *,
    msc_id: str,
    call_reference: str,
    sequence: int,
    cell: f.ServingCell | None,
    start: f.LocalTime,
) -> dict[str, Any]:
    """The fields every record type fills the same way: identity, subscriber, cell, roaming, start time."""
    imsi = _field(record, "servedIMSI", f.decode_imsi)
    mcc, mnc = (cell.mcc, cell.mnc) if cell else (None, None)
    return {
        "cdr_id": derive_cdr_id(msc_id, call_reference, sequence),
        "record_type": record_type.value,
        "msc_id": msc_id,
        "call_reference": call_reference,
        "partial_sequence": sequence,
        "imsi": imsi,
        "imei": _field(record, "servedIMEI", f.decode_imei),
        "mcc": mcc,
        "mnc": mnc,
        "lac": cell.lac if cell else None,
        "cell_id": cell.cell_id if cell else None,
        "roaming": _is_roaming(imsi, mcc, mnc),
        "seizure_utc_ms": start.utc_ms,
        "utc_offset_min": start.utc_offset_min,
        "bytes_up": 0,
        "bytes_down": 0,
        "schema_version": BER_SCHEMA_VERSION,
        "source_format": SOURCE_FORMAT,
    }


def _cs_cell(record: Value) -> f.ServingCell | None:
    return _field(record, "location", f.decode_location_area_and_cell)


def _call_times(
    record: Value, duration_s: int, received_ms: int | None
) -> tuple[f.LocalTime, f.LocalTime | None, int, list[tuple[str, str]]]:
    """(start, answer, release UTC ms, derived) of a call record. 32.298 makes all three times OPTIONAL:
    the start falls back to answerTime, then releaseTime (a later partial record), then - for a record
    with no time at all - the time Kinesis received it, taken as the release (a CDR is written when the
    call or partial ends) with callDuration before it. Each fallback is named in `derived`."""
    seizure, answer, release = (
        _field(record, k, f.decode_timestamp) for k in ("seizureTime", "answerTime", "releaseTime")
    )
    derived: list[tuple[str, str]] = []
    start = seizure or answer or release
    if start is None:
        if received_ms is None:
            raise BerFieldError(
                "call record has no seizure, answer or release time", reason=ReasonCode.MISSING_FIELD
            )
        start = f.LocalTime(utc_ms=received_ms - duration_s * 1000, utc_offset_min=0)
        derived += [
            ("seizure_time", "arrival - callDuration"),
            ("release_time", "arrival"),
            ("utc_offset", "UTC (no TimeStamp in the record)"),
        ]
        return start, None, received_ms, derived
    if seizure is None:
        derived.append(("seizure_time", "answerTime" if answer is not None else "releaseTime"))
    if release is None:
        derived.append(("release_time", ("answerTime" if answer else "seizureTime") + " + callDuration"))
        return start, answer, (answer or start).utc_ms + duration_s * 1000, derived
    return start, answer, release.utc_ms, derived


def _call(record: Value, record_type: RecordType, received_ms: int | None) -> dict[str, Any]:
    """MOCallRecord / MTCallRecord. callDuration is chargeable time when answered, holding time otherwise."""
    duration_s = int(_required(record, "callDuration"))
    start, answer, release_ms, derived = _call_times(record, duration_s, received_ms)
    cause = int(_required(record, "causeForTerm"))
    served = _field(record, "servedMSISDN", _address)
    if record_type is RecordType.MOC:
        a_number, b_number = (
            served or _field(record, "callingNumber", _address),
            _field(record, "calledNumber", _address),
        )
    else:
        a_number, b_number = _field(record, "callingNumber", _address), served
    out = _common(
        record,
        record_type,
        msc_id=_must(record, "recordingEntity", _address),
        call_reference=_required(record, "callReference").hex(),
        sequence=int(record.get("sequenceNumber", 0)),
        cell=_cs_cell(record),
        start=start,
    )
    out.update(
        a_number_raw=a_number,
        b_number_raw=b_number,
        answer_utc_ms=answer.utc_ms if answer else None,
        release_utc_ms=release_ms,
        duration_s=duration_s,
        answered=answer is not None,
        cause_for_term=CAUSE_FOR_TERM.get(cause, f"cause({cause})"),
        last_partial=cause not in _PARTIAL_CAUSES_CS,
        rat=_SYSTEM_TYPES.get(record.get("systemType", "")),
    )
    if derived:
        out["derived"] = derived
    return out


def _sms(record: Value, record_type: RecordType) -> dict[str, Any]:
    """MOSMSRecord / MTSMSRecord: an event at one instant; answered = delivered (no smsResult diagnostics)."""
    when = _must(
        record, "originationTime" if record_type is RecordType.SMS_MO else "deliveryTime", f.decode_timestamp
    )
    served = _field(record, "servedMSISDN", _address)
    if record_type is RecordType.SMS_MO:
        a_number, b_number = served, _field(record, "destinationNumber", _tp_address)
    else:  # MTSMSRecord has no originator field; CAMEL SMS information may carry it
        a_number, b_number = (
            _field(record.get("cAMELSMSInformation", {}), "callingPartyNumber", _address),
            served,
        )
    delivered = "smsResult" not in record
    msc_id = _must(record, "recordingEntity", _address)
    # TP-MR is one octet per handset, so it only identifies the message together with the subscriber and
    # the time; MT records have no reference at all. A digest keeps the id stable and the IMSI out of it.
    identity = (
        _required(record, "servedIMSI").hex(),
        record.get("messageReference", b"").hex(),
        when,
        msc_id,
    )
    reference = hashlib.blake2b(repr(identity).encode(), digest_size=8).hexdigest()
    out = _common(
        record,
        record_type,
        msc_id=msc_id,
        call_reference=reference,
        sequence=0,
        cell=_cs_cell(record),
        start=when,
    )
    out.update(
        a_number_raw=a_number,
        b_number_raw=b_number,
        answer_utc_ms=when.utc_ms if delivered else None,
        release_utc_ms=when.utc_ms,
        duration_s=0,
        answered=delivered,
        cause_for_term=None if delivered else "smsResult",
        last_partial=True,
        rat=_SYSTEM_TYPES.get(record.get("systemType", "")),
    )
    return out


def _gateway(record: Value, address_field: str) -> dict[str, Any]:
    """SGWRecord / PGWRecord: one bearer/PDN session slice from recordOpeningTime for `duration` seconds."""
    opened = _must(record, "recordOpeningTime", f.decode_timestamp)
    duration_s = int(_required(record, "duration"))
    cause = int(_required(record, "causeForRecClosing"))
    volumes: list[Value] = record.get("listOfTrafficVolumes", [])
    out = _common(
        record,
        RecordType.DATA,
        msc_id=record.get("nodeID") or _must(record, address_field, _gsn_address),
        call_reference=str(_required(record, "chargingID")),
        sequence=int(record.get("recordSequenceNumber", 0)),
        cell=_field(record, "userLocationInformation", f.decode_user_location),
        start=opened,
    )
    out.update(
        a_number_raw=_field(record, "servedMSISDN", _address),
        b_number_raw=record.get("accessPointNameNI"),  # the APN is the "destination" of a data session
        answer_utc_ms=opened.utc_ms,
        release_utc_ms=opened.utc_ms + duration_s * 1000,
        duration_s=duration_s,
        answered=True,
        cause_for_term=CAUSE_FOR_REC_CLOSING.get(cause, f"cause({cause})"),
        last_partial=cause in _FINAL_CAUSES_PS,
        bytes_up=sum(int(v.get("dataVolumeGPRSUplink", 0)) for v in volumes),
        bytes_down=sum(int(v.get("dataVolumeGPRSDownlink", 0)) for v in volumes),
        rat=_RAT_TYPES.get(int(record["rATType"])) if "rATType" in record else None,
    )
    return out


# CHOICE alternative name (CSRecord / GPRSRecord) -> canonical mapping, given the record's arrival ms.
MAPPERS: Final[dict[str, Callable[[Value, int | None], dict[str, Any]]]] = {
    "moCallRecord": lambda r, received_ms: _call(r, RecordType.MOC, received_ms),
    "mtCallRecord": lambda r, received_ms: _call(r, RecordType.MTC, received_ms),
    "moSMSRecord": lambda r, _: _sms(r, RecordType.SMS_MO),
    "mtSMSRecord": lambda r, _: _sms(r, RecordType.SMS_MT),
    "sGWRecord": lambda r, _: _gateway(r, "s-GWAddress"),
    "pGWRecord": lambda r, _: _gateway(r, "p-GWAddress"),
}
