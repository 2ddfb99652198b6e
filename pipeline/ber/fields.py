"""Decoders for the octet strings TS 32.298 (and the MAP/24.008/29.274 types it imports) encodes specially.

Pure functions over bytes, no pycrate: TBCD (IMSI, IMEI), AddressString / BCD directory numbers with their
TON/NPI octet, SMS TP addresses, the 9-octet TimeStamp (local time + UTC offset), PLMN ids, LAC/CI and the
29.274 User Location Information (TAI/ECGI). Each raises BerFieldError with the ReasonCode to reject with.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from typing import Final

from pipeline.ber.errors import BerFieldError
from pipeline.schema import ReasonCode

# TBCD (29.002): one digit per nibble, low nibble first; 0xA-0xE are '*', '#', 'a', 'b', 'c'; 0xF is filler.
_TBCD_SYMBOLS: Final = "0123456789*#abc"
_FILLER: Final = 0xF

# Type of number (bits 7-5 of the first octet of AddressString / 24.008 BCD numbers).
TON_UNKNOWN: Final = 0
TON_INTERNATIONAL: Final = 1
TON_NATIONAL: Final = 2
TON_ALPHANUMERIC: Final = 5  # 23.040 TP addresses only

TIMESTAMP_OCTETS: Final = 9
_MAX_UTC_OFFSET_MIN: Final = 14 * 60  # the spec says hh 00..13; Kiribati is +14:00


# Octet -> its two symbols (low nibble first), for octets without a filler; and the last-octet form with
# a filler high nibble. Table lookups: TBCD is decoded several times per CDR.
_PAIRS: Final = {
    o: _TBCD_SYMBOLS[o & 0x0F] + _TBCD_SYMBOLS[o >> 4]
    for o in range(256)
    if _FILLER not in (o & 0x0F, o >> 4)
}
_LAST_ODD: Final = {(_FILLER << 4) | n: _TBCD_SYMBOLS[n] for n in range(_FILLER)}


def decode_tbcd(data: bytes, *, digits_only: bool = True) -> str:
    """TBCD octets -> digit string. A filler nibble may only end the string (last octet, high nibble)."""
    if not data:
        return ""
    try:
        digits = "".join([_PAIRS[o] for o in data[:-1]]) + (_PAIRS.get(data[-1]) or _LAST_ODD[data[-1]])
    except KeyError:
        raise BerFieldError("TBCD filler 0xF inside the string") from None
    if digits_only and not digits.isdigit():
        raise BerFieldError(
            "TBCD string holds a non-digit where digits are required", reason=ReasonCode.INVALID_IDENTIFIER
        )
    return digits


def decode_imsi(data: bytes) -> str:
    """MAP IMSI: TBCD, 3..8 octets, 6..15 digits (MCC + MNC + MSIN)."""
    imsi = decode_tbcd(data)
    if not 6 <= len(imsi) <= 15:
        raise BerFieldError(
            f"IMSI has {len(imsi)} digits, expected 6..15", reason=ReasonCode.INVALID_IDENTIFIER
        )
    return imsi


def luhn_check_digit(digits: str) -> str:
    """23.003 Annex B check digit of an IMEI's 14 TAC+SNR digits (Luhn, doubling every second digit)."""
    total = 0
    for i, ch in enumerate(digits):
        d = int(ch) * (2 if i % 2 == 1 else 1)
        total += d // 10 + d % 10
    return str((10 - total % 10) % 10)


def decode_imei(data: bytes) -> str:
    """MAP IMEI (8 octets TBCD): TAC + SNR (14 digits), then the SVN or a spare '0' + filler (29.002).

    The check digit is never transmitted (23.003 section 6.2.1), so it is recomputed: the canonical IMEI
    is the 15 digits TAC + SNR + CD. A node that wrote the CD in the spare digit gives the same result.
    """
    digits = decode_tbcd(data)
    if len(digits) not in (14, 15, 16):
        raise BerFieldError(
            f"IMEI has {len(digits)} digits, expected 14..16", reason=ReasonCode.INVALID_IDENTIFIER
        )
    return digits[:14] + luhn_check_digit(digits[:14])


@dataclass(frozen=True, slots=True)
class Address:
    """A decoded AddressString / BCD number: type of number, numbering plan and the digits."""

    ton: int
    npi: int
    digits: str

    @property
    def number(self) -> str:
        """The raw number the canonical CDR carries: '+' and the digits for an international number."""
        return f"+{self.digits}" if self.ton == TON_INTERNATIONAL and self.digits else self.digits


def decode_address(data: bytes) -> Address:
    """MAP AddressString or 24.008 calling/called party BCD number (without IE id and length).

    Octet 1: bit 8 extension (0 = an octet 3a with presentation/screening follows, 24.008 calling party
    number), bits 7-5 type of number, bits 4-1 numbering plan; then TBCD digits ('*', '#' allowed).
    """
    if not data:
        raise BerFieldError("empty AddressString")
    first = data[0]
    ton, npi = (first >> 4) & 0x07, first & 0x0F
    start = 1 if first & 0x80 else 2  # extension bit clear: skip octet 3a
    if len(data) < start:
        raise BerFieldError("AddressString ends inside its extension octet")
    return Address(ton=ton, npi=npi, digits=decode_tbcd(data[start:], digits_only=False))


def decode_tp_address(data: bytes) -> Address:
    """23.040 TP-Destination-Address (SmsTpDestinationNumber): digit count, TON/NPI octet, TBCD digits."""
    if len(data) < 2:
        raise BerFieldError("SMS TP address shorter than 2 octets")
    n_digits, first = data[0], data[1]
    ton, npi = (first >> 4) & 0x07, first & 0x0F
    if ton == TON_ALPHANUMERIC:
        raise BerFieldError(
            "alphanumeric SMS TP address (GSM 7-bit) is not supported", reason=ReasonCode.BAD_TYPE
        )
    digits = decode_tbcd(data[2:], digits_only=False)
    if len(digits) < n_digits:
        raise BerFieldError(f"SMS TP address announces {n_digits} digits, carries {len(digits)}")
    return Address(ton=ton, npi=npi, digits=digits[:n_digits])


def _bcd_pair(octet: int, what: str) -> int:
    high, low = octet >> 4, octet & 0x0F
    if high > 9 or low > 9:
        raise BerFieldError(
            f"TimeStamp {what} octet 0x{octet:02X} is not BCD", reason=ReasonCode.INVALID_TIMESTAMP
        )
    return high * 10 + low


@dataclass(frozen=True, slots=True)
class LocalTime:
    """A 32.298 TimeStamp resolved: UTC epoch ms and the offset the switch wrote."""

    utc_ms: int
    utc_offset_min: int


def decode_timestamp(data: bytes) -> LocalTime:
    """32.298 TimeStamp: YYMMDDhhmmss (BCD, high nibble first, local time), sign ('+'/'-' ASCII), hhmm.

    Years 00..99 are 2000..2099. UTC = local time - offset.
    """
    if len(data) != TIMESTAMP_OCTETS:
        raise BerFieldError(
            f"TimeStamp has {len(data)} octets, expected {TIMESTAMP_OCTETS}",
            reason=ReasonCode.INVALID_TIMESTAMP,
        )
    yy, mo, dd, hh, mi, ss = (
        _bcd_pair(o, name) for o, name in zip(data[:6], ("YY", "MM", "DD", "hh", "mm", "ss"), strict=True)
    )
    sign = data[6]
    if sign not in (0x2B, 0x2D):  # '+', '-'
        raise BerFieldError(
            f"TimeStamp sign octet 0x{sign:02X} is not '+' or '-'", reason=ReasonCode.INVALID_TIMESTAMP
        )
    off_h, off_m = _bcd_pair(data[7], "offset hh"), _bcd_pair(data[8], "offset mm")
    offset_min = (off_h * 60 + off_m) * (1 if sign == 0x2B else -1)
    year = 2000 + yy
    if (
        not 1 <= mo <= 12
        or not 1 <= dd <= calendar.monthrange(year, mo)[1]
        or hh > 23
        or mi > 59
        or ss > 59
        or off_m > 59
        or abs(offset_min) > _MAX_UTC_OFFSET_MIN
    ):
        raise BerFieldError(
            f"TimeStamp {data.hex()} is out of the calendar", reason=ReasonCode.INVALID_TIMESTAMP
        )
    local_s = calendar.timegm((year, mo, dd, hh, mi, ss, 0, 0, 0))
    return LocalTime(utc_ms=(local_s - offset_min * 60) * 1000, utc_offset_min=offset_min)


def decode_plmn(data: bytes) -> tuple[str, str]:
    """PLMN-Id / MCC-MNC (24.008): 3 octets, MCC2|MCC1, MNC3|MCC3, MNC2|MNC1; MNC3 = 0xF for a 2-digit MNC."""
    if len(data) != 3:
        raise BerFieldError(
            f"PLMN id has {len(data)} octets, expected 3", reason=ReasonCode.INVALID_IDENTIFIER
        )
    b0, b1, b2 = data
    nibbles = (b0 & 0x0F, b0 >> 4, b1 & 0x0F, b2 & 0x0F, b2 >> 4, b1 >> 4)
    if any(n > 9 for n in nibbles[:5]) or nibbles[5] not in (*range(10), _FILLER):
        raise BerFieldError(f"PLMN id {data.hex()} is not BCD", reason=ReasonCode.INVALID_IDENTIFIER)
    mcc = "".join(map(str, nibbles[:3]))
    mnc = "".join(map(str, nibbles[3:5])) + ("" if nibbles[5] == _FILLER else str(nibbles[5]))
    return mcc, mnc


def decode_uint(data: bytes, what: str, *, octets: int) -> int:
    """A fixed-size big-endian unsigned field (LAC, CI, TAC)."""
    if len(data) != octets:
        raise BerFieldError(
            f"{what} has {len(data)} octets, expected {octets}", reason=ReasonCode.INVALID_IDENTIFIER
        )
    return int.from_bytes(data, "big")


@dataclass(frozen=True, slots=True)
class ServingCell:
    """Where the subscriber was: PLMN, LAC (2G/3G) or TAC (4G), cell id (CI, SAC or 28-bit ECI)."""

    mcc: str | None
    mnc: str | None
    lac: int | None
    cell_id: int


# 29.274 ULI flags (octet 5, bit 1 first) and the length of each identity present, in wire order.
_ULI_PARTS: Final = (
    ("CGI", 7),
    ("SAI", 7),
    ("RAI", 7),
    ("TAI", 5),
    ("ECGI", 7),
    ("LAI", 5),
    ("MENB", 6),
    ("EMENB", 6),
)


def decode_user_location(data: bytes) -> ServingCell:
    """29.274 User Location Information (from the flags octet): ECGI + TAI for E-UTRAN, else CGI/SAI."""
    if not data:
        raise BerFieldError("empty userLocationInformation")
    flags, offset = data[0], 1
    parts: dict[str, bytes] = {}
    for bit, (name, size) in enumerate(_ULI_PARTS):
        if flags & (1 << bit):
            if offset + size > len(data):
                raise BerFieldError(f"userLocationInformation ends inside its {name}")
            parts[name] = data[offset : offset + size]
            offset += size
    if "ECGI" in parts:
        ecgi = parts["ECGI"]
        mcc, mnc = decode_plmn(ecgi[:3])
        tac = decode_uint(parts["TAI"][3:5], "TAC", octets=2) if "TAI" in parts else None
        return ServingCell(mcc=mcc, mnc=mnc, lac=tac, cell_id=int.from_bytes(ecgi[3:7], "big") & 0x0FFFFFFF)
    for name in ("CGI", "SAI"):
        if name in parts:
            part = parts[name]
            mcc, mnc = decode_plmn(part[:3])
            return ServingCell(
                mcc=mcc,
                mnc=mnc,
                lac=int.from_bytes(part[3:5], "big"),
                cell_id=int.from_bytes(part[5:7], "big"),
            )
    raise BerFieldError(f"userLocationInformation flags 0x{flags:02X} carry no ECGI, CGI or SAI")


def decode_location_area_and_cell(location: dict[str, bytes]) -> ServingCell:
    """32.298 LocationAreaAndCell: locationAreaCode (2 octets), cellId (2 octets), optional mCC-MNC."""
    mcc, mnc = decode_plmn(location["mCC-MNC"]) if "mCC-MNC" in location else (None, None)
    return ServingCell(
        mcc=mcc,
        mnc=mnc,
        lac=decode_uint(location["locationAreaCode"], "locationAreaCode", octets=2),
        cell_id=decode_uint(location["cellId"], "cellId", octets=2),
    )
