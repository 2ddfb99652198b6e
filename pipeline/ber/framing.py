"""TS 32.297 section 6 CDR file framing (file header + per-CDR header) and the BER tag/length peek.

A Kinesis record carries either one bare BER CallEventRecord or a 32.297 file (chunk): a file header,
then CDRs, each behind its own CDR header. Parsing here is pure Python (struct), no pycrate.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from pipeline.ber.errors import BerFramingError

# File header fixed part: file length, header length, high/low release+version, opening and last-append
# timestamps, number of CDRs, file sequence number, closure trigger reason, node IP (20), lost CDR indicator.
_FILE_HEADER: Final = struct.Struct(">IIBB4s4sIIB20sB")
FILE_HEADER_MIN_OCTETS: Final = (
    _FILE_HEADER.size + 2 + 2
)  # + routing filter length + private extension length
_CDR_HEADER: Final = struct.Struct(">HBB")  # CDR length, release/version, data record format/TS number
_RELEASE_EXTENDED: Final = 7  # 3-bit release identifier 7 = Rel-10 or later; an extension octet follows
_RELEASES: Final = (99, 4, 5, 6, 7, 8, 9)  # identifier 0..6 -> R99, Rel-4 .. Rel-9
UNKNOWN_COUNT: Final = 0xFFFFFFFF  # number of CDRs / sequence number "not used"

DATA_RECORD_FORMATS: Final = {1: "BER", 2: "unaligned PER", 3: "aligned PER", 4: "XER"}
FORMAT_BER: Final = 1
# The TS number field names the "middle tier" charging spec (6 = 32.250 CS/MSC, 7 = 32.251 PS/SGW/PGW).
TS_NUMBERS: Final = {
    6: "32.250",
    7: "32.251",
    8: "32.252",
    9: "32.260",
    10: "32.270",
    11: "32.271",
    12: "32.272",
}

FILE_CLOSURE_REASONS: Final = {
    0: "normal",
    1: "fileSizeLimit",
    2: "fileOpenTimeLimit",
    3: "maximumNumberOfCdrs",
    4: "manualIntervention",
    5: "cdrReleaseOrVersionChanged",
    128: "undefinedError",
    129: "diskFull",
    130: "fileSystemError",
    131: "fileIntegrityError",
}


@dataclass(frozen=True, slots=True)
class HeaderTime:
    """32.297 header timestamp: month, day, hour, minute in the node's local time and its UTC offset."""

    month: int
    day: int
    hour: int
    minute: int
    utc_offset_min: int


@dataclass(frozen=True, slots=True)
class LostCdrs:
    """Lost CDR indicator: `count` CDRs lost, exactly or at least (bit 8 set = exact count)."""

    count: int
    exact: bool


@dataclass(frozen=True, slots=True)
class FileHeader:
    file_length: int
    header_length: int
    high_release: int
    high_version: int
    low_release: int
    low_version: int
    opened: HeaderTime
    last_cdr_appended: HeaderTime
    cdr_count: int | None  # None: the node did not count
    file_sequence_number: int | None
    closure_reason: str
    node_address: str
    lost: LostCdrs
    routing_filter: bytes
    private_extension: bytes


@dataclass(frozen=True, slots=True)
class CdrHeader:
    cdr_length: int
    release: int
    version: int
    data_record_format: int
    ts_number: int
    header_length: int


def _release(identifier: int, extension: int | None) -> int:
    return 10 + (extension or 0) if identifier == _RELEASE_EXTENDED else _RELEASES[identifier]


def decode_header_time(raw: bytes) -> HeaderTime:
    """4 octets: month(4) day(5) hour(5) minute(6) | sign(1, 1 = '+') offset hours(5) offset minutes(6)."""
    bits = int.from_bytes(raw, "big")
    sign = 1 if bits >> 11 & 1 else -1
    offset = sign * ((bits >> 6 & 0x1F) * 60 + (bits & 0x3F))
    return HeaderTime(bits >> 28, bits >> 23 & 0x1F, bits >> 18 & 0x1F, bits >> 12 & 0x3F, offset)


def decode_node_address(raw: bytes) -> str:
    """20 octets: an IPv6 address in the last 16 (IPv4 in the last 4 when the rest are 0x00 or 0xFF)."""
    v6 = raw[4:]
    if all(b in (0, 0xFF) for b in v6[:10]) and v6[10:12] in (b"\x00\x00", b"\xff\xff") and any(v6[12:]):
        return ".".join(str(b) for b in v6[12:])
    return ":".join(v6[i : i + 2].hex() for i in range(0, 16, 2))


def decode_lost_cdrs(octet: int) -> LostCdrs:
    """0 = none lost; bit 8 set: bits 7-1 are the exact count (0x80: an unknown number, so at least 1)."""
    count, exact = octet & 0x7F, bool(octet & 0x80)
    if exact and count == 0:
        return LostCdrs(count=1, exact=False)
    return LostCdrs(count=count, exact=exact or count == 0)


def parse_file_header(data: bytes) -> FileHeader:
    if len(data) < FILE_HEADER_MIN_OCTETS:
        raise BerFramingError(
            f"32.297 file header needs {FILE_HEADER_MIN_OCTETS} octets, chunk has {len(data)}"
        )
    (file_len, header_len, high, low, opened, appended, count, seq, reason, node, lost) = (
        _FILE_HEADER.unpack_from(data)
    )
    if not FILE_HEADER_MIN_OCTETS <= header_len <= min(file_len, len(data)):
        raise BerFramingError(
            f"32.297 header length {header_len} is outside {FILE_HEADER_MIN_OCTETS}..{file_len}"
        )
    pos = _FILE_HEADER.size
    fields: list[bytes] = []
    for what in ("CDR routing filter", "private extension"):
        if pos + 2 > header_len:
            raise BerFramingError(f"32.297 header of {header_len} octets ends before the {what} length")
        (n,) = struct.unpack_from(">H", data, pos)
        if pos + 2 + n > header_len:
            raise BerFramingError(f"32.297 {what} of {n} octets overruns the {header_len}-octet header")
        fields.append(data[pos + 2 : pos + 2 + n])
        pos += 2 + n
    # Rel-10+ identifiers carry one extension octet each, high then low, at the end of the header.
    high_ext = data[pos] if (high >> 5) == _RELEASE_EXTENDED and pos < header_len else None
    pos += high_ext is not None
    low_ext = data[pos] if (low >> 5) == _RELEASE_EXTENDED and pos < header_len else None
    return FileHeader(
        file_length=file_len,
        header_length=header_len,
        high_release=_release(high >> 5, high_ext),
        high_version=high & 0x1F,
        low_release=_release(low >> 5, low_ext),
        low_version=low & 0x1F,
        opened=decode_header_time(opened),
        last_cdr_appended=decode_header_time(appended),
        cdr_count=None if count == UNKNOWN_COUNT else count,
        file_sequence_number=None if seq == UNKNOWN_COUNT else seq,
        closure_reason=FILE_CLOSURE_REASONS.get(reason, f"reserved({reason})"),
        node_address=decode_node_address(node),
        lost=decode_lost_cdrs(lost),
        routing_filter=fields[0],
        private_extension=fields[1],
    )


def parse_cdr_header(data: bytes, pos: int) -> CdrHeader:
    if pos + _CDR_HEADER.size > len(data):
        raise BerFramingError(f"CDR header at offset {pos} is truncated")
    length, rel_ver, fmt_ts = _CDR_HEADER.unpack_from(data, pos)
    identifier, header_len, ext = rel_ver >> 5, _CDR_HEADER.size, None
    if identifier == _RELEASE_EXTENDED:
        if pos + 5 > len(data):
            raise BerFramingError(f"CDR header at offset {pos} ends before its release extension")
        ext, header_len = data[pos + 4], 5
    return CdrHeader(
        cdr_length=length,
        release=_release(identifier, ext),
        version=rel_ver & 0x1F,
        data_record_format=fmt_ts >> 5,
        ts_number=fmt_ts & 0x1F,
        header_length=header_len,
    )


@dataclass(frozen=True, slots=True)
class FramedCdr:
    """One CDR of a file: its BER bytes, or the framing error that makes it unreadable."""

    header: CdrHeader | None
    body: bytes
    error: BerFramingError | None = None


def iter_cdrs(data: bytes, header: FileHeader) -> Iterator[FramedCdr]:
    """Walk the CDRs after the file header; a truncated CDR ends the walk (its length cannot be trusted)."""
    end = min(header.file_length, len(data))
    pos = header.header_length
    while pos < end:
        try:
            cdr = parse_cdr_header(data, pos)
        except BerFramingError as exc:
            yield FramedCdr(header=None, body=b"", error=exc)
            return
        start = pos + cdr.header_length
        stop = start + cdr.cdr_length
        if stop > end:
            yield FramedCdr(
                cdr, b"", BerFramingError(f"CDR at offset {pos} claims {cdr.cdr_length} octets past the end")
            )
            return
        yield FramedCdr(cdr, data[start:stop])
        pos = stop


def ber_tlv_span(data: bytes) -> tuple[int, int, int] | None:
    """(tag number, header octets, content length) of the first BER TLV, or None when it cannot be one."""
    if len(data) < 2:
        return None
    tag, pos = data[0] & 0x1F, 1
    if tag == 0x1F:  # high tag number form: base-128 digits
        tag = 0
        while True:
            if pos >= len(data) or pos > 4:
                return None
            octet = data[pos]
            tag = tag << 7 | (octet & 0x7F)
            pos += 1
            if not octet & 0x80:
                break
    if pos >= len(data):
        return None
    first = data[pos]
    pos += 1
    if first < 0x80:
        return tag, pos, first
    n = first & 0x7F
    if n == 0 or n > 4 or pos + n > len(data):  # indefinite length is not used by CDR generators
        return None
    return tag, pos + n, int.from_bytes(data[pos : pos + n], "big")
