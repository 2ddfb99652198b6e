from typing import Any

import pytest

from pipeline.decode import Rejected, decode_payload
from pipeline.schema import CanonicalCDR, Cell, NumberKind, ReasonCode, derive_cdr_id
from pipeline.validate import Limits, to_canonical
from tests.support.pipeline_events import NOW_MS, as_csv, as_json, make_cdr

LIMITS = Limits("US", NOW_MS, 300_000, 30 * 86_400_000)


def canonical(payload: bytes, limits: Limits = LIMITS) -> CanonicalCDR:
    source_format, fields = decode_payload(payload, 65536)
    return to_canonical(fields, source_format, limits)


def rejection(**overrides: Any) -> ReasonCode:
    with pytest.raises(Rejected) as caught:
        canonical(as_json(make_cdr(1, **overrides)))
    return caught.value.reason


def test_answered_call_keeps_chargeable_duration_and_converts_times_to_utc() -> None:
    cdr = canonical(as_json(make_cdr(1)))
    # 08:00:00 at -05:00 is 13:00:00Z
    assert cdr.seizure_utc_ms == NOW_MS - 3_600_000
    assert cdr.answered and cdr.duration_s == 60 and cdr.utc_offset_min == -300


def test_unanswered_call_duration_is_holding_time() -> None:
    # Given a call released after 25 s of ringing, never answered (3GPP: duration = holding time)
    cdr = canonical(as_json(make_cdr(1, answer_time=None, release_time="2026-11-18T08:00:25", duration_s=25)))
    assert not cdr.answered and cdr.duration_s == 25 and cdr.answer_utc_ms is None


def test_plus_0530_offset_converts_local_time() -> None:
    cdr = canonical(
        as_json(
            make_cdr(
                1,
                utc_offset="+05:30",
                seizure_time="2026-11-18T18:30:00",
                answer_time=None,
                release_time="2026-11-18T18:30:10",
            )
        )
    )
    # 18:30 at +05:30 is 13:00Z
    assert cdr.seizure_utc_ms == NOW_MS - 3_600_000 and cdr.utc_offset_min == 330


def test_v1_json_v2_json_and_csv_give_the_same_canonical_record() -> None:
    base = make_cdr(7)
    v1, v2, csv1 = (canonical(p) for p in (as_json(base), as_json(base, 2), as_csv(base)))
    assert v1.a_number == v2.a_number == csv1.a_number == "+12015550007"
    assert v1.seizure_utc_ms == v2.seizure_utc_ms == csv1.seizure_utc_ms
    assert v2.rat == "EUTRAN" and v1.rat is None


def test_cdr_id_is_derived_when_absent() -> None:
    cdr = canonical(as_json(make_cdr(5)))
    assert cdr.cdr_id == derive_cdr_id("MSC01", "CR00000005", 0)


def test_emergency_call_keeps_911_and_has_no_destination_country() -> None:
    cdr = canonical(as_json(make_cdr(1, called_number="911")))
    assert (cdr.b_number, cdr.b_number_kind, cdr.b_country) == ("911", NumberKind.EMERGENCY, None)


def test_alphanumeric_sender_allowed_for_sms_only() -> None:
    cdr = canonical(as_json(make_cdr(1, record_type="SMS_MT", calling_number="BANK")))
    assert cdr.a_number_kind is NumberKind.ALPHANUMERIC
    assert rejection(calling_number="BANK") is ReasonCode.INVALID_PHONE_NUMBER


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"record_type": "VIDEO"}, ReasonCode.UNKNOWN_RECORD_TYPE),
        ({"called_number": "0044 20 7946 0958"}, ReasonCode.INVALID_PHONE_NUMBER),
        ({"duration_s": -1}, ReasonCode.NEGATIVE_DURATION),
        ({"duration_s": "60"}, ReasonCode.BAD_TYPE),
        ({"release_time": "2026-11-18T07:59:00"}, ReasonCode.END_BEFORE_START),
        ({"answer_time": "2026-11-18T09:00:00"}, ReasonCode.END_BEFORE_START),
        (
            {
                "seizure_time": "2026-11-18T09:30:00",
                "answer_time": None,
                "release_time": "2026-11-18T09:31:00",
            },
            ReasonCode.TIMESTAMP_IN_FUTURE,
        ),
        (
            {
                "seizure_time": "2026-09-01T08:00:00",
                "answer_time": None,
                "release_time": "2026-09-01T08:01:00",
            },
            ReasonCode.TIMESTAMP_TOO_OLD,
        ),
        ({"seizure_time": "2026-13-01T08:00:00"}, ReasonCode.INVALID_TIMESTAMP),
        ({"utc_offset": "IST"}, ReasonCode.INVALID_TIMESTAMP),
        ({"imsi": "31026abc"}, ReasonCode.INVALID_IDENTIFIER),
        ({"mcc": "31"}, ReasonCode.INVALID_IDENTIFIER),
        ({"cdr_id": "x" * 300}, ReasonCode.INVALID_IDENTIFIER),
        ({"msc_id": None}, ReasonCode.MISSING_FIELD),
        ({"seizure_time": ""}, ReasonCode.MISSING_FIELD),  # found by the fuzz test: was an AssertionError
        ({"release_time": ""}, ReasonCode.MISSING_FIELD),
        ({"rat": "5G"}, ReasonCode.BAD_TYPE),
        ({"rat": ["NR"]}, ReasonCode.BAD_TYPE),  # found by the fields fuzz test: was a TypeError (unhashable)
        ({"bytes_up": -5}, ReasonCode.BAD_TYPE),
    ],
)
def test_invalid_records_are_rejected_with_a_reason(overrides: dict[str, Any], reason: ReasonCode) -> None:
    assert rejection(**overrides) is reason


def test_premium_rate_destination_is_accepted_and_marked() -> None:
    cdr = canonical(as_json(make_cdr(1, called_number="+19002001234")))
    assert cdr.b_number_kind is NumberKind.PREMIUM_RATE and cdr.b_country == "US"


def test_every_canonical_field_comes_from_its_wire_field() -> None:
    # Given a CDR whose fields all differ from their defaults
    wire = make_cdr(4, sequence=2, last_partial=False, roaming=True, bytes_up=7, bytes_down=9, lac=None)
    cdr = canonical(as_csv(wire, version=2))
    # Then each lands in the right canonical attribute
    assert cdr.cell == Cell("310", "260", None, 11)
    assert (cdr.imsi, cdr.imei) == ("310260000000004", "352099001761484")
    assert (cdr.msc_id, cdr.call_reference, cdr.partial_sequence) == ("MSC01", "CR00000004", 2)
    assert (cdr.last_partial, cdr.roaming, cdr.bytes_up, cdr.bytes_down) == (False, True, 7, 9)
    assert (cdr.cause_for_term, cdr.rat, cdr.schema_version, cdr.source_format) == (
        "normalRelease",
        "NR",
        2,
        "csv",
    )
    assert (cdr.a_number_raw, cdr.b_number, cdr.b_country) == ("+12015550004", "+442079460958", "GB")
    assert cdr.answer_utc_ms == cdr.seizure_utc_ms + 5000 and cdr.release_utc_ms == cdr.seizure_utc_ms + 65000
