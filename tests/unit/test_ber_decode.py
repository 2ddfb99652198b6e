"""decode_ber on hand-built TS 32.298 records and TS 32.297 chunks; field values checked against the spec."""

import subprocess
import sys

import pytest

from loadgen.ber import encode_file, encode_record
from pipeline.ber import FILE_LEVEL_INDEX, BerDecoded, BerRejected, decode_ber, looks_like_ber
from pipeline.schema import ReasonCode
from tests.support.ber_records import IMSI, MO_CALL, MT_PARTIAL, UTC_0400, tlv, ts


def only_decoded(data: bytes) -> dict:
    [result] = decode_ber(data, home_region="IN")
    assert isinstance(result, BerDecoded), result
    return result.fields


def test_hand_built_mo_call_decodes_to_spec_values() -> None:
    fields = only_decoded(MO_CALL)
    assert fields["record_type"] == "MOC"
    assert (fields["a_number_raw"], fields["b_number_raw"]) == ("+919812345678", "+14155550100")
    assert (fields["imsi"], fields["imei"]) == ("404451234567890", "490154203237518")
    assert fields["seizure_utc_ms"] == UTC_0400
    assert fields["answer_utc_ms"] == UTC_0400 + 5_000
    assert fields["release_utc_ms"] == UTC_0400 + 65_000
    assert fields["utc_offset_min"] == 330
    assert (fields["duration_s"], fields["answered"]) == (60, True)
    assert (fields["mcc"], fields["mnc"], fields["lac"], fields["cell_id"]) == ("404", "45", 0x1234, 0x5678)
    assert (fields["msc_id"], fields["call_reference"]) == ("+919800000001", "0a1b2c3d")
    assert (fields["partial_sequence"], fields["last_partial"], fields["cause_for_term"]) == (
        0,
        True,
        "normalRelease",
    )
    assert (fields["rat"], fields["roaming"], fields["source_format"]) == ("GERAN", False, "ber")


def test_encoder_writes_exactly_the_hand_built_mo_call() -> None:
    # Given the decoded fields of the hand-built record, When re-encoded, Then the bytes are identical
    assert encode_record(only_decoded(MO_CALL)) == MO_CALL


def test_partial_unanswered_mt_record() -> None:
    fields = only_decoded(MT_PARTIAL)
    assert fields["record_type"] == "MTC"
    assert (fields["a_number_raw"], fields["b_number_raw"]) == ("+14155550100", "+919812345678")
    assert (fields["answered"], fields["answer_utc_ms"], fields["duration_s"]) == (False, None, 600)
    assert (fields["partial_sequence"], fields["last_partial"]) == (2, False)
    assert fields["cause_for_term"] == "partialRecord"
    assert fields["cdr_id"] == "+919800000001:77:2"


def test_encoder_writes_exactly_the_hand_built_partial_mt_record() -> None:
    assert encode_record(only_decoded(MT_PARTIAL)) == MT_PARTIAL


def test_roaming_when_serving_plmn_differs_from_the_imsi_home() -> None:
    roaming = MO_CALL.replace(bytes.fromhex("04f454"), bytes.fromhex("13f054"))  # served in MCC 310 MNC 45
    assert only_decoded(roaming)["roaming"] is True


def test_data_record_round_trip_has_ecgi_volumes_and_partial_flags() -> None:
    # Given a PGW partial record (time limit) with TAI + ECGI and traffic volumes
    pgw = {
        "record_type": "DATA",
        "a_number_raw": "+919812345678",
        "b_number_raw": "internet",
        "imsi": "404451234567890",
        "imei": "490154203237518",
        "seizure_utc_ms": UTC_0400,
        "release_utc_ms": UTC_0400 + 600_000,
        "utc_offset_min": 330,
        "duration_s": 600,
        "cause_for_term": "timeLimit",
        "mcc": "404",
        "mnc": "45",
        "lac": 0x2222,
        "cell_id": 0xABCDE12,
        "msc_id": "pgw-01",
        "call_reference": "123456",
        "partial_sequence": 3,
        "bytes_up": 1_000,
        "bytes_down": 200_000,
        "rat": "EUTRAN",
    }
    # When encoded and decoded
    fields = only_decoded(encode_record(pgw))
    # Then every field survives and the spec meanings hold
    assert {k: fields[k] for k in pgw} == pgw
    assert (fields["last_partial"], fields["answered"], fields["answer_utc_ms"]) == (False, True, UTC_0400)


SUBSCRIBER_AT_CELL = {"imsi": "404451234567890", "mcc": "404", "mnc": "45", "lac": 1, "cell_id": 2}


def round_trip(sms: dict) -> dict:
    """Encode `sms` (plus a subscriber at a home cell), decode it, and check every given field survives."""
    given = {**SUBSCRIBER_AT_CELL, "msc_id": "+919800000001", "seizure_utc_ms": UTC_0400, **sms}
    fields = only_decoded(encode_record(given))
    assert {k: fields[k] for k in given} == given
    return fields


def test_sms_mo_round_trip() -> None:
    sms = {"record_type": "SMS_MO", "a_number_raw": "+919812345678", "b_number_raw": "+14155550100"}
    fields = round_trip({**sms, "utc_offset_min": 330, "answered": True})
    assert (fields["duration_s"], fields["release_utc_ms"], fields["answer_utc_ms"]) == (
        0,
        UTC_0400,
        UTC_0400,
    )


def test_undelivered_sms_mt_is_not_answered_and_takes_a_party_from_camel() -> None:
    sms = {"record_type": "SMS_MT", "a_number_raw": "+14155550100", "b_number_raw": "+919812345678"}
    fields = round_trip({**sms, "utc_offset_min": -180, "answered": False})
    assert (fields["answer_utc_ms"], fields["cause_for_term"]) == (None, "smsResult")


def test_unsupported_record_type_is_rejected_as_unknown() -> None:
    [result] = decode_ber(tlv("aa", tlv("80", b"\x0a")), home_region="IN")  # [10] ssActionRecord
    assert isinstance(result, BerRejected) and result.reason is ReasonCode.UNKNOWN_RECORD_TYPE


def test_record_missing_mandatory_call_reference_is_rejected() -> None:
    broken = MO_CALL[:2] + MO_CALL[2:].replace(tlv("9f20", bytes.fromhex("0a1b2c3d")), b"")
    broken = bytes([0xA0, len(broken) - 2]) + broken[2:]
    [result] = decode_ber(broken, home_region="IN")
    # pycrate enforces the SET's mandatory components, so this is a decode error, not a mapping one
    assert isinstance(result, BerRejected) and result.reason is ReasonCode.BER_DECODE_ERROR


def test_bad_timestamp_inside_a_record_is_an_invalid_timestamp() -> None:
    bad = MO_CALL.replace(ts("261126093000"), ts("261326093000"))  # month 13
    [result] = decode_ber(bad, home_region="IN")
    assert isinstance(result, BerRejected) and result.reason is ReasonCode.INVALID_TIMESTAMP


def test_chunk_with_a_corrupt_cdr_in_the_middle_keeps_the_others() -> None:
    # Given a 32.297 chunk: good MO call, a CDR whose inner length overruns it, good MT partial
    corrupt = bytes.fromhex("a003800500")
    chunk = encode_file([(MO_CALL, 6), (corrupt, 6), (MT_PARTIAL, 6)], file_sequence_number=12)
    # When decoded
    results = decode_ber(chunk, home_region="IN")
    # Then one result per CDR, in order, and only the middle one is rejected
    assert [r.index for r in results] == [0, 1, 2]
    assert [type(r) for r in results] == [BerDecoded, BerRejected, BerDecoded]
    assert isinstance(results[1], BerRejected) and results[1].reason is ReasonCode.BER_DECODE_ERROR
    assert isinstance(results[2], BerDecoded) and results[2].fields["partial_sequence"] == 2
    assert isinstance(results[0], BerDecoded)
    assert {k: results[0].fields[k] for k in ("ber_file_sequence", "ber_release", "ber_ts")} == {
        "ber_file_sequence": 12,
        "ber_release": 15,
        "ber_ts": "32.250",
    }


def test_lost_cdrs_reported_by_the_file_header_become_a_file_level_rejection() -> None:
    results = decode_ber(encode_file([(MO_CALL, 6)], lost_cdrs=3), home_region="IN")
    lost = [r for r in results if isinstance(r, BerRejected) and r.is_file_level]
    assert [(r.index, r.reason) for r in lost] == [(FILE_LEVEL_INDEX, ReasonCode.LOST_CDRS)]
    assert "exactly 3" in lost[0].detail


def test_truncated_chunk_rejects_only_the_cut_cdr() -> None:
    chunk = encode_file([(MO_CALL, 6), (MT_PARTIAL, 6)])
    results = decode_ber(chunk[:-10], home_region="IN")
    assert [(r.index, type(r).__name__) for r in results] == [(0, "BerDecoded"), (1, "BerRejected")]
    assert isinstance(results[1], BerRejected) and results[1].reason is ReasonCode.BER_FRAMING_ERROR


def test_cdrs_missing_against_the_header_count_are_reported() -> None:
    # Given a header announcing 3 CDRs (octets 18..21) over a chunk holding 1
    chunk = bytearray(encode_file([(MO_CALL, 6)]))
    chunk[18:22] = (3).to_bytes(4, "big")
    # Then the CDR decodes and the shortfall is one framing rejection after it
    results = decode_ber(bytes(chunk), home_region="IN")
    assert [(r.index, type(r).__name__) for r in results] == [(0, "BerDecoded"), (1, "BerRejected")]
    assert isinstance(results[1], BerRejected) and "announces 3 CDRs" in results[1].detail


def test_non_ber_data_record_format_is_rejected_per_cdr() -> None:
    chunk = bytearray(encode_file([(MO_CALL, 6)]))
    chunk[54 + 3] = 3 << 5 | 6  # CDR header: aligned PER instead of BER
    [result] = decode_ber(bytes(chunk), home_region="IN")
    assert isinstance(result, BerRejected) and "aligned PER" in result.detail


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b'{"schema_version": 1}', False),
        (b"1,MOC,+14155550100,+14155550101", False),
        (bytes.fromhex("f3899ac2") + b"\x0a\x01", False),
        (b"", False),
        (MO_CALL, True),
        (encode_file([(MO_CALL, 6)]), True),
    ],
)
def test_looks_like_ber_claims_only_ber(payload: bytes, expected: bool) -> None:
    assert looks_like_ber(payload) is expected


def test_importing_pipeline_ber_does_not_import_pycrate() -> None:
    code = "import sys, pipeline.ber; sys.exit(any(m.startswith('pycrate') for m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_preload_imports_pycrate_in_a_fresh_interpreter() -> None:
    code = "import sys, pipeline.ber as b; b.preload(); sys.exit('pycrate_asn1dir.CDR' not in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_sgw_record_without_node_id_is_identified_by_its_ipv6_address() -> None:
    # Given an SGW record (built with pycrate) with no nodeID, an IPv6 S-GW address and a CGI-only ULI
    from pycrate_asn1dir import CDR

    gprs = CDR.GPRSChargingDataTypes.GPRSRecord
    gateway = (
        "iPBinaryAddress",
        ("iPBinV6Address", ("iPBinV6Address", bytes.fromhex("20010db8" + "00" * 11 + "01"))),
    )
    sgw = {
        "recordType": 84,
        "servedIMSI": IMSI,
        "s-GWAddress": gateway,
        "chargingID": 99,
        "servingNodeAddress": [gateway],
        "recordOpeningTime": ts("261126093000"),
        "duration": 30,
        "causeForRecClosing": 0,
        "chargingCharacteristics": b"\x08\x00",
        "userLocationInformation": bytes.fromhex("01" + "130014" + "0102" + "0304"),
        "servingNodeType": ["mME"],
    }
    gprs.set_val(("sGWRecord", sgw))
    # When decoded
    fields = only_decoded(gprs.to_ber())
    # Then the gateway address stands in for the node id and the CGI gives the cell
    assert (fields["record_type"], fields["msc_id"], fields["call_reference"]) == (
        "DATA",
        "2001:db8::1",
        "99",
    )
    assert (fields["mcc"], fields["mnc"], fields["lac"], fields["cell_id"]) == ("310", "410", 0x0102, 0x0304)
    assert (fields["roaming"], fields["last_partial"], fields["release_utc_ms"]) == (
        True,
        True,
        UTC_0400 + 30_000,
    )


def test_first_decode_does_not_flood_the_log_with_pycrate_import_notes() -> None:
    code = (
        "import logging, sys; logging.basicConfig(level=logging.INFO, stream=sys.stdout); "
        "import pipeline.ber as b; b.preload()"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "pycrate" not in out


def test_a_malformed_field_is_named_but_its_value_stays_out_of_the_detail() -> None:
    # Given an IMSI with a filler in the middle (04 44 F5 ...)
    bad = MO_CALL.replace(IMSI, bytes.fromhex("0444f532547698f0"))
    [result] = decode_ber(bad, home_region="IN")
    assert isinstance(result, BerRejected) and result.detail.startswith("servedIMSI:")
    assert "0444" not in result.detail and "404" not in result.detail
