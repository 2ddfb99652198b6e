"""TS 32.297 file and CDR headers, parsed from bytes laid out by hand from section 6."""

import pytest

from loadgen.ber import cdr_header, encode_file, header_time
from pipeline.ber import framing
from pipeline.ber.errors import BerFramingError

# 2026-11-26 09:30 +05:30: month 11 (4 bits) day 26 (5) hour 9 (5) min 30 (6) | sign 1 '+' (1) 5 h (5) 30 (6)
# = 1011 11010 01001 011110 | 1 00101 011110 = 0xBD25E95E
HEADER_TIME = bytes.fromhex("bd25e95e")


def hand_built_file_header(cdr_bytes: int) -> bytes:
    """A Rel-15 file header: 52 fixed/length octets + the two release extension octets = 54."""
    header_len = 54
    return (
        (header_len + cdr_bytes).to_bytes(4, "big")  # file length
        + header_len.to_bytes(4, "big")  # header length
        + bytes([0xE3, 0xE0])  # high: release id 7 (Rel-10+) version 3; low: id 7 version 0
        + HEADER_TIME  # file opening timestamp
        + HEADER_TIME  # last CDR append timestamp
        + (2).to_bytes(4, "big")  # number of CDRs
        + (77).to_bytes(4, "big")  # file sequence number
        + bytes([2])  # closure trigger: file open time limit
        + bytes(14)
        + b"\xff\xff"
        + bytes([10, 1, 2, 3])  # node address: IPv4-mapped 10.1.2.3
        + bytes([0x05])  # lost CDR indicator: bit 8 clear -> at least 5
        + b"\x00\x00"  # no CDR routing filter
        + b"\x00\x00"  # no private extension
        + bytes([5, 3])  # release extensions: high Rel-15, low Rel-13
    )


def test_file_header_fields_match_the_hand_built_bytes() -> None:
    header = framing.parse_file_header(hand_built_file_header(0))
    assert (header.file_length, header.header_length) == (54, 54)
    assert (header.high_release, header.high_version, header.low_release, header.low_version) == (
        15,
        3,
        13,
        0,
    )
    assert header.opened == framing.HeaderTime(11, 26, 9, 30, 330)
    assert (header.cdr_count, header.file_sequence_number) == (2, 77)
    assert header.closure_reason == "fileOpenTimeLimit"
    assert header.node_address == "10.1.2.3"
    assert header.lost == framing.LostCdrs(count=5, exact=False)


def test_header_time_encoder_matches_the_hand_computed_bits() -> None:
    assert header_time(11, 26, 9, 30, 330) == HEADER_TIME


def test_negative_header_time_offset() -> None:
    assert framing.decode_header_time(header_time(1, 2, 3, 4, -210)).utc_offset_min == -210


@pytest.mark.parametrize(
    ("octet", "lost"),
    [
        (0x00, framing.LostCdrs(0, exact=True)),
        (0x83, framing.LostCdrs(3, exact=True)),
        (0x03, framing.LostCdrs(3, exact=False)),
        (0x80, framing.LostCdrs(1, exact=False)),
    ],
)
def test_lost_cdr_indicator(octet: int, lost: framing.LostCdrs) -> None:
    assert framing.decode_lost_cdrs(octet) == lost


def test_pre_rel10_header_has_no_extension_octets() -> None:
    raw = bytearray(hand_built_file_header(0)[:52])
    raw[0:8] = (52).to_bytes(4, "big") * 2
    raw[8:10] = bytes([0xC2, 0xA1])  # Rel-9 (id 6) version 2, Rel-8 (id 5) version 1
    header = framing.parse_file_header(bytes(raw))
    assert (header.high_release, header.high_version, header.low_release, header.low_version) == (9, 2, 8, 1)


def test_header_length_beyond_the_chunk_is_a_framing_error() -> None:
    raw = bytearray(hand_built_file_header(0))
    raw[4:8] = (500).to_bytes(4, "big")
    with pytest.raises(BerFramingError, match="header length 500"):
        framing.parse_file_header(bytes(raw))


def test_routing_filter_overrunning_the_header_is_a_framing_error() -> None:
    raw = bytearray(hand_built_file_header(0))
    raw[48:50] = (40).to_bytes(2, "big")
    with pytest.raises(BerFramingError, match="routing filter"):
        framing.parse_file_header(bytes(raw))


def test_cdr_header_rel15_ber_32251() -> None:
    # length 0x0123, release id 7 version 1, format 1 (BER) TS 7 (32.251), extension 5 -> Rel-15
    raw = bytes.fromhex("0123" + "e1" + "27" + "05")
    assert framing.parse_cdr_header(raw, 0) == framing.CdrHeader(0x0123, 15, 1, 1, 7, 5)


def test_cdr_header_encoder_matches_the_hand_computed_bytes() -> None:
    assert cdr_header(b"\x00" * 0x0123, ts_number=7, release=15, version=1) == bytes.fromhex("0123e12705")


def test_file_encoder_writes_the_hand_built_layout() -> None:
    # Given one 3-octet CDR, When the encoder writes a Rel-15 file, Then the header parses back as built
    data = encode_file([(b"\xa0\x01\x00", 6)], file_sequence_number=9, lost_cdrs=0)
    header = framing.parse_file_header(data)
    assert (header.file_length, header.header_length, header.cdr_count) == (len(data), 54, 1)
    assert [(c.header.ts_number if c.header else None, c.body) for c in framing.iter_cdrs(data, header)] == [
        (6, b"\xa0\x01\x00")
    ]


def test_ber_tlv_span_reads_long_form_length_and_high_tag() -> None:
    # [79] constructed (0xBF 0x4F), long-form length 0x81 0x90 = 144
    assert framing.ber_tlv_span(bytes.fromhex("bf4f8190") + bytes(144)) == (79, 4, 144)
