import csv
import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loadgen import kpl as kpl_encoder
from pipeline.decode import Rejected, csv_cells, decode_payload, sniff
from pipeline.kpl import KPL_MAGIC, KplError, SubRecord, deaggregate
from pipeline.schema import ReasonCode
from tests.support.pipeline_events import as_csv, as_json, make_cdr

MAX = 64 * 1024


def aggregate(records: list[SubRecord]) -> bytes:
    """The harness's KPL encoder (loadgen/kpl.py) over (partition key, data) sub-records."""
    return kpl_encoder.aggregate([r.data for r in records], [r.partition_key for r in records])


def reason_of(payload: bytes) -> ReasonCode:
    with pytest.raises(Rejected) as caught:
        decode_payload(payload, MAX)
    return caught.value.reason


def test_json_v1_and_v2_decode_to_the_same_fields() -> None:
    # Given the same CDR in v1 and v2 (v2 renames calling_number -> a_party and adds rat)
    _, v1 = decode_payload(as_json(make_cdr(1)), MAX)
    _, v2 = decode_payload(as_json(make_cdr(1), version=2), MAX)
    # Then both carry calling_number; only v2 has rat
    assert v1["calling_number"] == v2["calling_number"] == "+12015550001"
    assert "a_party" not in v2 and v2["rat"] == "EUTRAN"


def test_csv_columns_are_typed_by_name() -> None:
    source_format, fields = decode_payload(as_csv(make_cdr(3, answer_time=None)), MAX)
    assert source_format == "csv"
    assert fields["duration_s"] == 60 and fields["roaming"] is False and fields["answer_time"] is None
    assert fields["mnc"] == "260"  # identifiers stay strings: a leading zero matters


def test_csv_v2_maps_renamed_column_back() -> None:
    _, fields = decode_payload(as_csv(make_cdr(3), version=2), MAX)
    assert fields["calling_number"] == "+12015550003" and fields["rat"] == "NR"


def test_quoted_csv_is_parsed() -> None:
    line = as_csv(make_cdr(3, cause_for_term="normal, by user")).replace(
        b"normal, by user", b'"normal, by user"'
    )
    _, fields = decode_payload(line, MAX)
    assert fields["cause_for_term"] == "normal, by user"


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"", ReasonCode.EMPTY_RECORD),
        (b"{" + b" " * MAX + b"}", ReasonCode.OVERSIZED_RECORD),
        (b'{"schema_version": 1, \x00}', ReasonCode.BAD_ENCODING),
        (b"\xff\xfe1,2,3", ReasonCode.BAD_ENCODING),
        (b'{"schema_version": 1,', ReasonCode.MALFORMED_PAYLOAD),
        (b"[1, 2]", ReasonCode.MALFORMED_PAYLOAD),
        (b"hello,world", ReasonCode.MALFORMED_PAYLOAD),
        (b"1,too,few", ReasonCode.MALFORMED_PAYLOAD),
        (b'{"record_type": "MOC"}', ReasonCode.MISSING_FIELD),
        (b'{"schema_version": "1"}', ReasonCode.BAD_TYPE),
        (b'{"schema_version": 9}', ReasonCode.UNKNOWN_SCHEMA_VERSION),
        (b"9,a,b", ReasonCode.UNKNOWN_SCHEMA_VERSION),
    ],
)
def test_bad_payloads_are_rejected_with_a_reason(payload: bytes, reason: ReasonCode) -> None:
    assert reason_of(payload) is reason


def test_csv_non_integer_in_integer_column_is_bad_type() -> None:
    assert reason_of(as_csv(make_cdr(1, duration_s="sixty"))) is ReasonCode.BAD_TYPE


def test_sniffing_by_first_bytes() -> None:
    assert sniff(b'  {"a": 1}') == "json"
    assert sniff(KPL_MAGIC + b"rest") == "kpl"
    assert sniff(b"1,2,3") == "csv"


def test_kpl_round_trip_keeps_order_and_partition_keys() -> None:
    records = [SubRecord("k1", b"one"), SubRecord("k2", b"two"), SubRecord("k1", b"three")]
    assert deaggregate(aggregate(records)) == records


def test_kpl_with_a_wrong_md5_trailer_is_corrupt() -> None:
    blob = bytearray(aggregate([SubRecord("k", b"x")]))
    blob[-1] ^= 0xFF
    with pytest.raises(KplError, match="MD5"):
        deaggregate(bytes(blob))


def test_kpl_with_truncated_protobuf_is_corrupt() -> None:
    body = aggregate([SubRecord("k", b"payload")])[4:-16][:-3]
    with pytest.raises(KplError):
        deaggregate(KPL_MAGIC + body + hashlib.md5(body).digest())


def test_kpl_with_a_dangling_key_index_is_corrupt() -> None:
    # Given a record that points at partition key #5 of a one-key table
    body = b"\x0a\x01k" + b"\x1a\x05\x08\x05\x1a\x01x"
    with pytest.raises(KplError, match="partition key index"):
        deaggregate(KPL_MAGIC + body + hashlib.md5(body).digest())


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.text(alphabet=st.sampled_from(['"', ",", "a", "1", " ", "\n", "\r", "é"]), max_size=24),
        min_size=1,
        max_size=6,
    )
)
def test_the_kept_csv_reader_gives_each_line_the_cells_a_fresh_reader_gives(lines: list[str]) -> None:
    # Given lines one after another, some with unbalanced quotes, embedded newlines or stray characters
    for line in lines:
        # Then the process-wide reader parses each as a fresh reader of that line alone (or fails alike)
        try:
            expected: object = next(csv.reader([line]))
        except csv.Error as exc:
            expected = str(exc)
        try:
            got: object = csv_cells(line)
        except csv.Error as exc:
            got = str(exc)
        assert got == expected
