"""decode_ber never raises and accounts for every CDR, whatever the bytes (property-based)."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loadgen.ber import encode_file
from pipeline.ber import BerRejected, decode_ber
from tests.support.ber_records import MO_CALL, MT_PARTIAL

GOOD_CHUNK = encode_file([(MO_CALL, 6), (MT_PARTIAL, 6), (MO_CALL, 6)])
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.binary(max_size=300))
def test_arbitrary_bytes_give_results_not_exceptions(data: bytes) -> None:
    results = decode_ber(data, home_region="IN")
    assert results, "every record ends somewhere"


@FUZZ
@given(st.integers(min_value=2, max_value=len(MO_CALL) - 1), st.integers(min_value=0, max_value=255))
def test_a_flipped_octet_in_a_bare_record_gives_exactly_one_result(position: int, octet: int) -> None:
    corrupted = MO_CALL[:position] + bytes([octet]) + MO_CALL[position + 1 :]
    assert len(decode_ber(corrupted, home_region="IN")) == 1


@FUZZ
@given(st.integers(min_value=56, max_value=len(GOOD_CHUNK) - 1), st.integers(min_value=0, max_value=255))
def test_a_flipped_octet_in_a_chunk_never_loses_a_cdr_silently(position: int, octet: int) -> None:
    # Given a 3-CDR chunk with one octet changed after the file header
    corrupted = GOOD_CHUNK[:position] + bytes([octet]) + GOOD_CHUNK[position + 1 :]
    # When decoded, Then each of the 3 CDRs the header announces is decoded or rejected (or the shortfall is)
    results = decode_ber(corrupted, home_region="IN")
    shortfall_reported = any(isinstance(r, BerRejected) and "announces" in r.detail for r in results)
    assert {0, 1, 2} <= {r.index for r in results} or shortfall_reported
