"""BER encoder for load tests of the BER path: canonical CDR field dicts -> TS 32.298 records, 32.297 chunks.

Takes the same field dicts `pipeline.ber.decode_ber` produces (so decode(encode(x)) == x on those fields)
and writes MOCallRecord, MTCallRecord, MOSMSRecord, MTSMSRecord or PGWRecord with pycrate, imported on the
first encode. The octet-level encoders (TBCD, AddressString, TimeStamp, PLMN, ULI) are written here from
the specs, independently of the decoder, so a round trip checks both.
"""

from __future__ import annotations

import functools
import ipaddress
import struct
import time
from collections.abc import Mapping, Sequence
from typing import Any, Final

from pipeline.ber.records import CAUSE_FOR_REC_CLOSING, CAUSE_FOR_TERM

_CAUSE_CS: Final = {name: code for code, name in CAUSE_FOR_TERM.items()}
_CAUSE_PS: Final = {name: code for code, name in CAUSE_FOR_REC_CLOSING.items()}
_RAT_CODES: Final = {"UTRAN": 1, "GERAN": 2, "WLAN": 3, "EUTRAN": 6, "NR": 10}
_SYSTEM_TYPES: Final = {"UTRAN": "iuUTRAN", "GERAN": "gERAN"}
_TBCD: Final = {ch: i for i, ch in enumerate("0123456789*#abc")}
_CLASSMARK: Final = b"\x57\x58\xa6"  # a plausible MS classmark 2; the decoder ignores it
TS_CS: Final = 6  # 32.297 TS number of 32.250 (CS) CDRs
TS_PS: Final = 7  # 32.251 (PS)
FORMAT_BER: Final = 1


def encode_tbcd(digits: str) -> bytes:
    """Digits (and '*', '#', 'a'-'c') -> TBCD, low nibble first, 0xF filler on an odd count."""
    nibbles = [_TBCD[ch] for ch in digits] + ([0xF] if len(digits) % 2 else [])
    return bytes(nibbles[i] | nibbles[i + 1] << 4 for i in range(0, len(nibbles), 2))


def encode_address(number: str, *, npi: int = 1) -> bytes:
    """'+digits' -> international (TON 1), else unknown (TON 0); extension bit set, ISDN/E.164 plan."""
    ton = 1 if number.startswith("+") else 0
    return bytes([0x80 | ton << 4 | npi]) + encode_tbcd(number.lstrip("+"))


def encode_tp_address(number: str) -> bytes:
    """23.040 TP address: digit count, TON/NPI octet, TBCD digits."""
    digits = number.lstrip("+")
    return bytes([len(digits)]) + encode_address(number)[:1] + encode_tbcd(digits)


def _bcd(value: int) -> int:
    return (value // 10) << 4 | value % 10


def encode_timestamp(utc_ms: int, utc_offset_min: int) -> bytes:
    """UTC epoch ms + offset -> 9-octet 32.298 TimeStamp in local time (seconds resolution)."""
    local = time.gmtime(utc_ms // 1000 + utc_offset_min * 60)
    sign = b"+" if utc_offset_min >= 0 else b"-"
    off = abs(utc_offset_min)
    date = (local.tm_year % 100, local.tm_mon, local.tm_mday, local.tm_hour, local.tm_min, local.tm_sec)
    return bytes(_bcd(v) for v in date) + sign + bytes([_bcd(off // 60), _bcd(off % 60)])


def encode_plmn(mcc: str, mnc: str) -> bytes:
    """MCC/MNC -> 3-octet PLMN id (MNC digit 3 = 0xF for a 2-digit MNC)."""
    d = [int(c) for c in mcc + mnc] + ([0xF] if len(mnc) == 2 else [])
    return bytes([d[1] << 4 | d[0], d[5] << 4 | d[2], d[4] << 4 | d[3]])


def encode_user_location(mcc: str, mnc: str, tac: int, eci: int) -> bytes:
    """29.274 ULI with TAI and ECGI (flags 0x18)."""
    plmn = encode_plmn(mcc, mnc)
    return b"\x18" + plmn + tac.to_bytes(2, "big") + plmn + (eci & 0x0FFFFFFF).to_bytes(4, "big")


@functools.cache
def _asn1_types() -> tuple[Any, Any]:
    from pycrate_asn1dir import CDR  # ~1.6 s: importing loadgen.ber stays cheap

    return CDR.CSChargingDataTypes.CSRecord, CDR.GPRSChargingDataTypes.GPRSRecord


def _location(fields: Mapping[str, Any]) -> dict[str, bytes]:
    return {
        "locationAreaCode": int(fields["lac"]).to_bytes(2, "big"),
        "cellId": int(fields["cell_id"]).to_bytes(2, "big"),
        "mCC-MNC": encode_plmn(fields["mcc"], fields["mnc"]),
    }


def _identity(fields: Mapping[str, Any]) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    if fields.get("imsi"):
        out["servedIMSI"] = encode_tbcd(fields["imsi"])
    if fields.get("imei"):
        out["servedIMEI"] = encode_tbcd(fields["imei"][:14] + "0")  # MAP: no SVN -> spare digit 0 + filler
    return out


def _call(fields: Mapping[str, Any], mobile_originated: bool) -> tuple[str, dict[str, Any]]:
    offset = int(fields["utc_offset_min"])
    record: dict[str, Any] = {"recordType": 0 if mobile_originated else 1, **_identity(fields)}
    served, other = (
        ("a_number_raw", "b_number_raw") if mobile_originated else ("b_number_raw", "a_number_raw")
    )
    record["servedMSISDN"] = encode_address(fields[served])
    if fields.get(other):
        record["calledNumber" if mobile_originated else "callingNumber"] = encode_address(fields[other])
    record["recordingEntity"] = encode_address(fields["msc_id"])
    record["location"] = _location(fields)
    record["seizureTime"] = encode_timestamp(fields["seizure_utc_ms"], offset)
    if fields.get("answer_utc_ms") is not None:
        record["answerTime"] = encode_timestamp(fields["answer_utc_ms"], offset)
    record["releaseTime"] = encode_timestamp(fields["release_utc_ms"], offset)
    record["callDuration"] = int(fields["duration_s"])
    record["causeForTerm"] = _CAUSE_CS[fields.get("cause_for_term") or "normalRelease"]
    record["callReference"] = bytes.fromhex(fields["call_reference"])
    if fields.get("partial_sequence"):
        record["sequenceNumber"] = int(fields["partial_sequence"])
    if fields.get("rat") in _SYSTEM_TYPES:
        record["systemType"] = _SYSTEM_TYPES[fields["rat"]]
    return ("moCallRecord" if mobile_originated else "mtCallRecord"), record


def _sms(fields: Mapping[str, Any], mobile_originated: bool) -> tuple[str, dict[str, Any]]:
    when = encode_timestamp(fields["seizure_utc_ms"], int(fields["utc_offset_min"]))
    smsc = encode_address(fields.get("smsc", "+10000000000"))
    record: dict[str, Any] = {"recordType": 6 if mobile_originated else 7}
    if mobile_originated:
        record.update(_identity(fields), msClassmark=_CLASSMARK, serviceCentre=smsc)
        record["servedMSISDN"] = encode_address(fields["a_number_raw"])
    else:
        record.update(serviceCentre=smsc, **_identity(fields), msClassmark=_CLASSMARK)
        record["servedMSISDN"] = encode_address(fields["b_number_raw"])
    record["recordingEntity"] = encode_address(fields["msc_id"])
    record["location"] = _location(fields)
    if mobile_originated:
        record.update(
            messageReference=bytes([int(fields.get("message_reference", 0)) % 256]), originationTime=when
        )
    else:
        record["deliveryTime"] = when
    if not fields.get("answered", True):
        record["smsResult"] = ("gsm0408Cause", 41)  # temporary failure
    if mobile_originated and fields.get("b_number_raw"):
        record["destinationNumber"] = encode_tp_address(fields["b_number_raw"])
    if not mobile_originated and fields.get("a_number_raw"):
        record["cAMELSMSInformation"] = {"callingPartyNumber": encode_address(fields["a_number_raw"])}
    return ("moSMSRecord" if mobile_originated else "mtSMSRecord"), record


def _gsn(address: str) -> tuple[str, Any]:
    ip = ipaddress.ip_address(address)
    kind = "iPBinV4Address" if ip.version == 4 else "iPBinV6Address"
    leaf: Any = ip.packed if ip.version == 4 else ("iPBinV6Address", ip.packed)
    return ("iPBinaryAddress", (kind, leaf))


def _pgw(fields: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    opened = encode_timestamp(fields["seizure_utc_ms"], int(fields["utc_offset_min"]))
    gateway = _gsn(fields.get("gateway_address", "10.0.0.1"))
    record: dict[str, Any] = {"recordType": 85}
    if fields.get("imsi"):
        record["servedIMSI"] = encode_tbcd(fields["imsi"])
    record.update({"p-GWAddress": gateway, "chargingID": int(fields["call_reference"])})
    record["servingNodeAddress"] = [gateway]
    if fields.get("b_number_raw"):
        record["accessPointNameNI"] = fields["b_number_raw"]
    record["listOfTrafficVolumes"] = [
        {
            "dataVolumeGPRSUplink": int(fields.get("bytes_up", 0)),
            "dataVolumeGPRSDownlink": int(fields.get("bytes_down", 0)),
            "changeCondition": "recordClosure",
            "changeTime": encode_timestamp(fields["release_utc_ms"], int(fields["utc_offset_min"])),
        }
    ]
    record.update(recordOpeningTime=opened, duration=int(fields["duration_s"]))
    record["causeForRecClosing"] = _CAUSE_PS[fields.get("cause_for_term") or "normalRelease"]
    if fields.get("partial_sequence"):
        record["recordSequenceNumber"] = int(fields["partial_sequence"])
    record["nodeID"] = fields["msc_id"]
    record["chargingCharacteristics"] = b"\x08\x00"  # 32.251 annex A: "normal" profile
    if fields.get("a_number_raw"):
        record["servedMSISDN"] = encode_address(fields["a_number_raw"])
    if fields.get("imei"):
        record["servedIMEI"] = _identity(fields)["servedIMEI"]
    if fields.get("rat") in _RAT_CODES:
        record["rATType"] = _RAT_CODES[fields["rat"]]
    record["userLocationInformation"] = encode_user_location(
        fields["mcc"], fields["mnc"], int(fields["lac"]), int(fields["cell_id"])
    )
    record["servingNodeType"] = ["mME"]
    return "pGWRecord", record


def encode_record(fields: Mapping[str, Any]) -> bytes:
    """Canonical field dict (record_type MOC, MTC, SMS_MO, SMS_MT or DATA) -> one BER CallEventRecord."""
    record_type = fields["record_type"]
    cs_record, gprs_record = _asn1_types()
    if record_type == "DATA":
        asn1, value = gprs_record, _pgw(fields)
    elif record_type in ("MOC", "MTC"):
        asn1, value = cs_record, _call(fields, record_type == "MOC")
    elif record_type in ("SMS_MO", "SMS_MT"):
        asn1, value = cs_record, _sms(fields, record_type == "SMS_MO")
    else:
        raise ValueError(
            f"record_type {record_type!r} has no BER encoder; use MOC, MTC, SMS_MO, SMS_MT or DATA"
        )
    asn1.set_val(value)
    return bytes(asn1.to_ber())


def header_time(month: int, day: int, hour: int, minute: int, utc_offset_min: int) -> bytes:
    """32.297 header timestamp (4 octets); the offset sign bit is 1 for '+'."""
    off = abs(utc_offset_min)
    bits = month << 28 | day << 23 | hour << 18 | minute << 12 | (utc_offset_min >= 0) << 11
    return (bits | (off // 60) << 6 | off % 60).to_bytes(4, "big")


def cdr_header(cdr: bytes, *, ts_number: int, release: int = 15, version: int = 0) -> bytes:
    """32.297 CDR header: length, release/version (7 + extension for Rel-10+), format BER + TS number."""
    identifier = 7 if release >= 10 else (release - 3 if release >= 4 else 0)
    head = struct.pack(">HBB", len(cdr), identifier << 5 | version, FORMAT_BER << 5 | ts_number)
    return head + (bytes([release - 10]) if identifier == 7 else b"")


def encode_file(
    cdrs: Sequence[tuple[bytes, int]],
    *,
    file_sequence_number: int = 1,
    lost_cdrs: int = 0,
    release: int = 15,
    node_ipv4: str = "10.0.0.1",
    opened: bytes | None = None,
) -> bytes:
    """A 32.297 file: file header (with Rel-10+ extension octets), then each (BER CDR, TS number)."""
    body = b"".join(cdr_header(cdr, ts_number=ts, release=release) + cdr for cdr, ts in cdrs)
    stamp = opened or header_time(1, 1, 0, 0, 0)
    node = b"\x00" * 14 + b"\xff\xff" + ipaddress.IPv4Address(node_ipv4).packed
    lost = 0 if lost_cdrs == 0 else 0x80 | min(lost_cdrs, 0x7F)
    release_octet = 7 << 5 if release >= 10 else 0
    fixed = struct.pack(
        ">BB4s4sIIB20sBHH",
        release_octet,
        release_octet,
        stamp,
        stamp,
        len(cdrs),
        file_sequence_number,
        0,
        node,
        lost,
        0,
        0,
    )
    tail = bytes([release - 10, release - 10]) if release >= 10 else b""
    header_len = 8 + len(fixed) + len(tail)
    return struct.pack(">II", header_len + len(body), header_len) + fixed + tail + body
