"""decode_ber: a Kinesis record holding one BER CDR or a TS 32.297 chunk -> one result per CDR.

pycrate's 32.298 module costs over a second to import, so it is imported on the first BER record only
(`_asn1_types`), never at module import: the JSON/CSV path's cold start does not pay for it.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from typing import Any, Final

from pipeline.ber import framing
from pipeline.ber.errors import BerError
from pipeline.ber.records import MAPPERS
from pipeline.ber.results import FILE_LEVEL_INDEX, BerDecoded, BerRejected, BerResult
from pipeline.schema import ReasonCode

# Context tags of the supported CHOICE alternatives (32.298 CSRecord and GPRSRecord).
CS_TAGS: Final = {0: "moCallRecord", 1: "mtCallRecord", 6: "moSMSRecord", 7: "mtSMSRecord"}
PS_TAGS: Final = {78: "sGWRecord", 79: "pGWRecord"}
_CONTEXT_CONSTRUCTED: Final = 0xA0  # class bits 10 + constructed bit: every CallEventRecord alternative
_PYCRATE_LOCK: Final = threading.Lock()


@functools.cache
def _asn1_types() -> tuple[Any, Any]:
    """(CSRecord, GPRSRecord) pycrate objects; the first call imports pycrate_asn1dir.CDR (~1.6 s)."""
    # pycrate logs ~37 INFO lines about duplicate OIDs in unrelated modules while importing: noise in
    # CloudWatch for every cold start. Its log module sets the level when imported, so import it first.
    import pycrate_core.log

    pycrate_core.log.logger.setLevel(logging.WARNING)
    from pycrate_asn1dir import CDR  # lazy on purpose: see the module docstring

    cs_record, gprs_record = CDR.CSChargingDataTypes.CSRecord, CDR.GPRSChargingDataTypes.GPRSRecord
    # pycrate re-walks the decoded value to check SIZE constraints (~20% of decode time). The fields we
    # use are length-checked by pipeline.ber.fields; other fields' sizes do not matter to the pipeline.
    cs_record._SAFE_BND = gprs_record._SAFE_BND = False
    return cs_record, gprs_record


def preload() -> float:
    """Import pycrate's 32.298 module now (cold start of a BER-heavy function); returns the seconds taken."""
    started = time.perf_counter()
    _asn1_types()
    return time.perf_counter() - started


def record_alternative(body: bytes) -> tuple[str | None, int]:
    """(supported CHOICE alternative or None, its tag) of a bare BER CDR; raises when the TLV is not whole."""
    span = framing.ber_tlv_span(body)
    if span is None or body[0] & 0xE0 != _CONTEXT_CONSTRUCTED:
        raise BerError("not a BER context-tagged constructed record", reason=ReasonCode.BER_DECODE_ERROR)
    tag, header_octets, length = span
    if header_octets + length != len(body):
        raise BerError(
            f"BER record length {header_octets + length} != {len(body)} octets available",
            reason=ReasonCode.BER_DECODE_ERROR,
        )
    return CS_TAGS.get(tag) or PS_TAGS.get(tag), tag


def decode_record(body: bytes, received_ms: int | None = None) -> dict[str, Any]:
    """One BER CallEventRecord -> canonical fields. Raises BerError (with its ReasonCode) when it cannot.

    `received_ms` (the Kinesis arrival) stands in for the time of a call record that carries none."""
    alternative, tag = record_alternative(body)
    if alternative is None:
        raise BerError(
            f"record type with context tag [{tag}] is not supported", reason=ReasonCode.UNKNOWN_RECORD_TYPE
        )
    cs_record, gprs_record = _asn1_types()
    asn1 = cs_record if alternative in CS_TAGS.values() else gprs_record
    try:
        with _PYCRATE_LOCK:  # the pycrate objects hold the decoded value: one decode at a time
            asn1.from_ber(body)
            name, value = asn1.get_val()
    except Exception as exc:  # pycrate raises assorted errors on bad input; all mean "does not decode"
        raise BerError(
            f"{alternative} does not decode: {type(exc).__name__}", reason=ReasonCode.BER_DECODE_ERROR
        ) from exc
    try:
        return MAPPERS[name](value, received_ms)
    except BerError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        raise BerError(
            f"{name} field mapping failed: {type(exc).__name__}", reason=ReasonCode.BAD_TYPE
        ) from exc


def _decode_one(index: int, body: bytes, extra: dict[str, Any], received_ms: int | None) -> BerResult:
    try:
        fields = decode_record(body, received_ms)
    except BerError as exc:
        return BerRejected(index=index, reason=exc.reason, detail=exc.detail)
    fields.update(extra)
    return BerDecoded(index=index, fields=fields)


def _decode_file(data: bytes, received_ms: int | None) -> list[BerResult]:
    try:
        header = framing.parse_file_header(data)
    except BerError as exc:
        return [BerRejected(index=0, reason=exc.reason, detail=exc.detail)]
    results: list[BerResult] = []
    if header.lost.count:
        qualifier = "exactly" if header.lost.exact else "at least"
        results.append(
            BerRejected(
                index=FILE_LEVEL_INDEX,
                reason=ReasonCode.LOST_CDRS,
                detail=f"file {header.file_sequence_number}: {qualifier} {header.lost.count} CDRs lost",
            )
        )
    file_extra = {"ber_file_sequence": header.file_sequence_number}
    index = -1
    for index, framed in enumerate(framing.iter_cdrs(data, header)):
        if framed.error is not None or framed.header is None:
            detail = framed.error.detail if framed.error else "unreadable CDR header"
            results.append(BerRejected(index=index, reason=ReasonCode.BER_FRAMING_ERROR, detail=detail))
            continue
        cdr_header = framed.header
        if cdr_header.data_record_format != framing.FORMAT_BER:
            fmt = framing.DATA_RECORD_FORMATS.get(
                cdr_header.data_record_format, str(cdr_header.data_record_format)
            )
            results.append(
                BerRejected(index, ReasonCode.BER_FRAMING_ERROR, f"CDR data record format {fmt} is not BER")
            )
            continue
        extra = {
            **file_extra,
            "ber_release": cdr_header.release,
            "ber_ts": framing.TS_NUMBERS.get(cdr_header.ts_number, str(cdr_header.ts_number)),
        }
        results.append(_decode_one(index, framed.body, extra, received_ms))
    seen = index + 1
    if header.cdr_count is not None and header.cdr_count != seen:
        results.append(
            BerRejected(
                index=seen,
                reason=ReasonCode.BER_FRAMING_ERROR,
                detail=f"file header announces {header.cdr_count} CDRs, chunk holds {seen}",
            )
        )
    return results


def is_file_chunk(data: bytes) -> bool:
    """A 32.297 file starts with its 4-octet length (first octet < 0xA0 below 2.6 GB) and header length."""
    if len(data) < framing.FILE_HEADER_MIN_OCTETS or data[0] & 0xE0 == _CONTEXT_CONSTRUCTED:
        return False
    file_length = int.from_bytes(data[:4], "big")
    header_length = int.from_bytes(data[4:8], "big")
    return framing.FILE_HEADER_MIN_OCTETS <= header_length <= min(file_length, len(data))


def looks_like_ber(data: bytes) -> bool:
    """Cheap sniff: a 32.297 file header, or a context-tagged constructed BER TLV (a CallEventRecord).

    JSON ('{' 0x7B), CSV (a digit 0x30-0x39) and KPL (0xF3) never start with 0xA0-0xBF, and a file
    header needs consistent lengths, so the other formats are not claimed.
    """
    if is_file_chunk(data):
        return True
    return bool(data) and data[0] & 0xE0 == _CONTEXT_CONSTRUCTED and framing.ber_tlv_span(data) is not None


def decode_ber(data: bytes, *, home_region: str, received_ms: int | None = None) -> list[BerResult]:
    """Decode one Kinesis record: a bare BER CallEventRecord or a 32.297 file chunk.

    `home_region` is accepted for symmetry with the other decoders: numbers stay raw here (international
    TON gets '+'), the normaliser applies the region. Every CDR yields exactly one result, in order; a
    file-level finding (lost CDRs) has index FILE_LEVEL_INDEX. `received_ms` (the Kinesis arrival time)
    is the time of a call record that has no TimeStamp at all (all three are OPTIONAL in 32.298).
    """
    del home_region  # numbers are normalised downstream
    if not data:
        return [BerRejected(index=0, reason=ReasonCode.EMPTY_RECORD, detail="empty record")]
    if is_file_chunk(data):
        return _decode_file(data, received_ms)
    return [_decode_one(0, data, {}, received_ms)]
