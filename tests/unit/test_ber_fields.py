"""The special 32.298 encodings, checked against bytes worked out by hand from the specs."""

import pytest

from pipeline.ber import fields as f
from pipeline.ber.errors import BerFieldError
from pipeline.schema import ReasonCode

# --- TBCD: IMSI / IMEI (29.002) -----------------------------------------------------------------------


def test_imsi_odd_length_ends_with_filler() -> None:
    # 404451234567890: digit pairs low nibble first, the 15th digit shares its octet with 0xF
    assert f.decode_imsi(bytes.fromhex("04441532547698f0")) == "404451234567890"


def test_imsi_even_length_has_no_filler() -> None:
    assert f.decode_imsi(bytes.fromhex("1032547698")) == "0123456789"


def test_tbcd_filler_in_the_middle_is_rejected() -> None:
    with pytest.raises(BerFieldError, match="filler"):
        f.decode_tbcd(bytes.fromhex("f121"))


def test_imsi_with_a_non_digit_nibble_is_an_invalid_identifier() -> None:
    with pytest.raises(BerFieldError) as err:
        f.decode_imsi(bytes.fromhex("04a41532547698f0"))
    assert err.value.reason is ReasonCode.INVALID_IDENTIFIER


def test_imsi_too_short_is_rejected() -> None:
    with pytest.raises(BerFieldError, match="IMSI has 4 digits"):
        f.decode_imsi(bytes.fromhex("0444"))


def test_luhn_check_digit_of_a_known_imei() -> None:
    # 23.003 Annex B worked example style: 49015420323751 -> check digit 8
    assert f.luhn_check_digit("49015420323751") == "8"


def test_imei_with_spare_digit_gets_its_check_digit_back() -> None:
    # TAC+SNR 49015420323751, then the spare digit 0 and a filler (no SVN)
    assert f.decode_imei(bytes.fromhex("9410450223731 5f0".replace(" ", ""))) == "490154203237518"


def test_imeisv_keeps_tac_and_snr_and_drops_the_svn() -> None:
    # SVN 42 in the last octet (low nibble 4, high nibble 2)
    assert f.decode_imei(bytes.fromhex("9410450223731524")) == "490154203237518"


# --- AddressString / 24.008 BCD numbers -----------------------------------------------------------------


def test_international_address_gets_a_plus() -> None:
    # 0x91: extension 1, TON 001 international, NPI 0001 E.164
    address = f.decode_address(bytes.fromhex("91198921436587"))
    assert (address.ton, address.npi, address.number) == (1, 1, "+919812345678")


def test_national_address_keeps_the_digits_as_dialled() -> None:
    # 0xA1: TON 010 national
    address = f.decode_address(bytes.fromhex("a11032547698"))
    assert (address.ton, address.number) == (f.TON_NATIONAL, "0123456789")


def test_unknown_ton_short_code_is_not_made_international() -> None:
    assert f.decode_address(bytes.fromhex("81 21 f3".replace(" ", ""))).number == "123"


def test_calling_party_number_with_octet_3a_skips_presentation_octet() -> None:
    # 24.008 calling party BCD number: octet 3 ext bit 0 -> octet 3a (0x80: presentation allowed) follows
    assert f.decode_address(bytes.fromhex("118041515505 01f0".replace(" ", ""))).number == "+14155550100"


def test_star_and_hash_survive_in_addresses() -> None:
    # *#06# style service code: '*' = 0xA, '#' = 0xB
    assert f.decode_address(bytes.fromhex("81 ba 60 fb".replace(" ", ""))).number == "*#06#"


def test_empty_address_is_rejected() -> None:
    with pytest.raises(BerFieldError, match="empty AddressString"):
        f.decode_address(b"")


def test_sms_tp_address_uses_the_digit_count() -> None:
    # 11 digits, TON/NPI 0x91, digits 14155550100 + filler
    assert f.decode_tp_address(bytes.fromhex("0b91415155050 1f0".replace(" ", ""))).number == "+14155550100"


def test_alphanumeric_tp_address_is_not_supported() -> None:
    with pytest.raises(BerFieldError, match="alphanumeric"):
        f.decode_tp_address(bytes.fromhex("08d0c2202b4a"))


# --- TimeStamp (32.298: YYMMDDhhmmss BCD local time, sign, hhmm) ------------------------------------------


def test_timestamp_with_plus_0530_offset_converts_to_utc() -> None:
    # 2026-11-26 09:30:00 +05:30 local = 2026-11-26 04:00:00 UTC = 1795665600 s
    local = f.decode_timestamp(bytes.fromhex("261126093000") + b"+" + bytes.fromhex("0530"))
    assert local == f.LocalTime(utc_ms=1_795_665_600_000, utc_offset_min=330)


def test_timestamp_with_negative_offset_crosses_midnight() -> None:
    # 2026-01-15 20:10:00 -03:00 local = 2026-01-15 23:10:00 UTC = 1768518600 s
    local = f.decode_timestamp(bytes.fromhex("260115201000") + b"-" + bytes.fromhex("0300"))
    assert local == f.LocalTime(utc_ms=1_768_518_600_000, utc_offset_min=-180)


@pytest.mark.parametrize(
    ("raw_hex", "problem"),
    [
        ("2611260930002b05", "octets"),  # 8 octets
        ("2613260930002b0530", "calendar"),  # month 13
        ("2602300930002b0530", "calendar"),  # 30 February
        ("2611260960002b0530", "calendar"),  # minute 60
        ("26112609300020 0530".replace(" ", ""), "sign"),  # sign octet is ' '
        ("261126093a002b0530", "BCD"),  # a nibble above 9
        ("2611260930002b1500", "calendar"),  # offset 15:00
    ],
)
def test_bad_timestamps_are_invalid_timestamps(raw_hex: str, problem: str) -> None:
    with pytest.raises(BerFieldError, match=problem) as err:
        f.decode_timestamp(bytes.fromhex(raw_hex))
    assert err.value.reason is ReasonCode.INVALID_TIMESTAMP


# --- Location -------------------------------------------------------------------------------------------


def test_plmn_with_two_digit_mnc() -> None:
    # MCC 404 MNC 45: 0x04 (MCC2|MCC1), 0xF4 (filler|MCC3), 0x54 (MNC2|MNC1)
    assert f.decode_plmn(bytes.fromhex("04f454")) == ("404", "45")


def test_plmn_with_three_digit_mnc() -> None:
    # MCC 310 MNC 410: 0x13, 0x00 (MNC3=0|MCC3=0), 0x14 (MNC2=1|MNC1=4)
    assert f.decode_plmn(bytes.fromhex("130014")) == ("310", "410")


def test_location_area_and_cell() -> None:
    location = {"locationAreaCode": b"\x12\x34", "cellId": b"\x56\x78", "mCC-MNC": bytes.fromhex("04f454")}
    assert f.decode_location_area_and_cell(location) == f.ServingCell("404", "45", 0x1234, 0x5678)


def test_uli_with_tai_and_ecgi_gives_tac_and_28_bit_eci() -> None:
    # flags 0x18 = TAI + ECGI; TAI = PLMN + TAC 0x2222; ECGI = PLMN + spare nibble 0xF + ECI 0xABCDE12
    uli = bytes.fromhex("18" + "04f454" + "2222" + "04f454" + "fabcde12")
    assert f.decode_user_location(uli) == f.ServingCell("404", "45", 0x2222, 0xABCDE12)


def test_uli_with_only_cgi() -> None:
    uli = bytes.fromhex("01" + "130014" + "0102" + "0304")
    assert f.decode_user_location(uli) == f.ServingCell("310", "410", 0x0102, 0x0304)


def test_truncated_uli_is_rejected() -> None:
    with pytest.raises(BerFieldError, match="ends inside its ECGI"):
        f.decode_user_location(bytes.fromhex("10" + "04f454"))
