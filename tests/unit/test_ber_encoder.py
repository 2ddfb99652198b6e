"""The load generator's BER encoders, checked against bytes worked out by hand from the specs."""

import pytest

from loadgen.ber import (
    encode_address,
    encode_file,
    encode_plmn,
    encode_record,
    encode_tbcd,
    encode_timestamp,
    encode_tp_address,
    encode_user_location,
)


def test_tbcd_odd_digit_count_gets_a_filler() -> None:
    assert encode_tbcd("12345") == bytes.fromhex("2143f5")


def test_international_number_gets_ton_1_and_national_ton_0() -> None:
    assert encode_address("+4412") == bytes.fromhex("914421")
    assert encode_address("112") == bytes.fromhex("8111f2")


def test_tp_address_counts_digits_not_octets() -> None:
    assert encode_tp_address("+123") == bytes.fromhex("039121f3")


def test_timestamp_writes_local_time_with_the_offset() -> None:
    # 2026-11-26 04:00:00 UTC at +05:30 -> 09:30:00 local
    assert encode_timestamp(1_795_665_600_000, 330) == bytes.fromhex("261126093000") + b"+" + bytes.fromhex(
        "0530"
    )


def test_timestamp_with_negative_offset_goes_back_a_day() -> None:
    # 2026-11-26 02:00:00 UTC at -03:00 -> 2026-11-25 23:00:00 local
    assert encode_timestamp(1_795_658_400_000, -180) == bytes.fromhex("261125230000") + b"-" + bytes.fromhex(
        "0300"
    )


def test_plmn_two_and_three_digit_mnc() -> None:
    assert encode_plmn("404", "45") == bytes.fromhex("04f454")
    assert encode_plmn("310", "410") == bytes.fromhex("130014")


def test_user_location_has_tai_then_ecgi() -> None:
    assert encode_user_location("404", "45", 0x2222, 0xABCDE12) == bytes.fromhex("1804f454222204f4540abcde12")


def test_lost_cdr_count_is_written_as_exact() -> None:
    data = encode_file([], lost_cdrs=3)
    # lengths (8) + releases (2) + timestamps (8) + count and sequence (8) + reason (1) + node (20) = 47
    assert data[47] == 0x83


def test_record_type_without_encoder_names_the_fix() -> None:
    with pytest.raises(ValueError, match="use MOC, MTC, SMS_MO, SMS_MT or DATA"):
        encode_record({"record_type": "FORWARD"})
