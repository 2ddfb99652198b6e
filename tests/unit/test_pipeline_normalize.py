import phonenumbers
import pytest

from pipeline.normalize import local_to_utc_ms, normalize_number, parse_utc_offset_min, strip_uri
from pipeline.schema import NumberKind


def test_011_is_the_international_prefix_under_us() -> None:
    # Given a UK number dialled from the US with the NANP exit code, When normalised
    result = normalize_number("011 44 20 7946 0958", "US")
    # Then it is the UK number in E.164
    assert result is not None
    assert (result.number, result.kind, result.country) == ("+442079460958", NumberKind.E164, "GB")


def test_00_is_not_an_international_prefix_under_us() -> None:
    # Given "00" (international only outside NANP) dialled under region US, When normalised
    # Then it is rejected rather than guessed into a fake UK number
    assert normalize_number("0044 20 7946 0958", "US") is None


def test_00_is_the_international_prefix_under_gb() -> None:
    result = normalize_number("0014155552671", "GB")
    assert result is not None and result.number == "+14155552671"


@pytest.mark.parametrize(("dialled", "region"), [("911", "US"), ("112", "US"), ("112", "DE"), ("999", "GB")])
def test_emergency_numbers_are_kept_as_dialled(dialled: str, region: str) -> None:
    result = normalize_number(dialled, region)
    assert result is not None
    assert (result.number, result.kind, result.country) == (dialled, NumberKind.EMERGENCY, None)


def test_short_code_is_kept_as_dialled() -> None:
    # Given a US SMS short code, Then it stays a short code, not +1 33669
    result = normalize_number("33669", "US")
    assert result is not None and (result.number, result.kind) == ("33669", NumberKind.SHORT_CODE)


def test_premium_rate_number_is_e164_of_premium_kind() -> None:
    result = normalize_number("+1 900 200 1234", "US")
    assert result is not None
    assert (result.number, result.kind, result.country) == ("+19002001234", NumberKind.PREMIUM_RATE, "US")


def test_national_number_gets_the_home_country_code() -> None:
    result = normalize_number("(415) 555-2671", "US")
    assert result is not None and result.number == "+14155552671"


@pytest.mark.parametrize(
    "uri",
    [
        "tel:+1-415-555-2671",
        "tel:+14155552671;phone-context=example.com",
        "sip:+14155552671@ims.example.com;user=phone",
    ],
)
def test_tel_and_sip_uris_are_stripped(uri: str) -> None:
    result = normalize_number(uri, "US")
    assert result is not None and result.number == "+14155552671"


def test_strip_uri_leaves_plain_numbers_alone() -> None:
    assert strip_uri(" +14155552671 ") == "+14155552671"


def test_alphanumeric_sender_id_is_recognised() -> None:
    result = normalize_number("BANK", "GB")
    assert result is not None and result.kind is NumberKind.ALPHANUMERIC


@pytest.mark.parametrize("raw", ["", "tel:", "+1", "12", "not a number!", "+999123456789"])
def test_garbage_is_not_a_number(raw: str) -> None:
    assert normalize_number(raw, "US") is None


@pytest.mark.parametrize(
    ("text", "minutes"), [("+05:30", 330), ("-04:00", -240), ("+0545", 345), ("Z", 0), ("+14:00", 840)]
)
def test_utc_offsets_parse_to_minutes(text: str, minutes: int) -> None:
    assert parse_utc_offset_min(text) == minutes


@pytest.mark.parametrize("text", ["05:30", "+5:30", "+15:00", "+05:75", "IST"])
def test_bad_utc_offsets_are_rejected(text: str) -> None:
    assert parse_utc_offset_min(text) is None


def test_local_time_at_plus_0530_converts_to_utc() -> None:
    # Given 2026-11-18 10:00:00 in India (+05:30), Then it is 04:30:00Z
    assert local_to_utc_ms("2026-11-18T10:00:00", 330) == 1_794_976_200_000


def test_explicit_offset_in_the_time_wins_over_utc_offset() -> None:
    assert local_to_utc_ms("2026-11-18T10:00:00+05:30", 0) == local_to_utc_ms("2026-11-18T04:30:00", 0)


def test_milliseconds_are_kept() -> None:
    assert local_to_utc_ms("1970-01-01T00:00:01.250", 0) == 1250


def test_unparseable_time_is_none() -> None:
    assert local_to_utc_ms("yesterday", 0) is None


@pytest.mark.parametrize(
    "raw",
    ["+12015550123", "+19002001234", "+442079460958", "+15555550100", "+4470", "+80012345678", "+1201555"],
)
def test_validity_agrees_with_phonenumbers_is_valid_number(raw: str) -> None:
    # The normaliser derives validity from number_type(); it must agree with the library's own check.
    parsed = phonenumbers.parse(raw, "US")
    assert (normalize_number(raw, "US") is not None) == phonenumbers.is_valid_number(parsed)
