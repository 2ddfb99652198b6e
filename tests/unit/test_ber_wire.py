"""The adapter from decoded BER fields to the JSON v1 wire fields the validator takes."""

from pipeline.ber import decode_ber, to_wire_fields
from pipeline.ber.wire import format_utc_offset, local_iso
from pipeline.schema import JSON_FIELDS_V1, REQUIRED_JSON_FIELDS_V1
from tests.support.ber_records import MO_CALL, MT_PARTIAL, UTC_0400


def wire_of(record: bytes) -> dict:
    [result] = decode_ber(record, home_region="IN")
    return to_wire_fields(result.fields)  # type: ignore[union-attr]


def test_mo_call_wire_fields_carry_local_time_and_offset() -> None:
    wire = wire_of(MO_CALL)
    assert (wire["seizure_time"], wire["answer_time"], wire["release_time"]) == (
        "2026-11-26T09:30:00",
        "2026-11-26T09:30:05",
        "2026-11-26T09:31:05",
    )
    assert (wire["utc_offset"], wire["calling_number"], wire["called_number"]) == (
        "+05:30",
        "+919812345678",
        "+14155550100",
    )


def test_every_v1_field_is_present_and_required_ones_are_set() -> None:
    wire = wire_of(MT_PARTIAL)
    assert set(JSON_FIELDS_V1) - {"cdr_id"} <= set(wire)
    assert all(wire[name] is not None for name in REQUIRED_JSON_FIELDS_V1)
    assert (wire["sequence"], wire["last_partial"], wire["answer_time"]) == (2, False, None)


def test_negative_offsets_format_with_a_minus() -> None:
    assert format_utc_offset(-210) == "-03:30"
    assert local_iso(UTC_0400, -210) == "2026-11-26T00:30:00"
