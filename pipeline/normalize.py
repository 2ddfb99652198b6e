"""Normalisation of phone numbers (E.164 with the switch's home region) and local times (to UTC ms).

Both are cached: a batch repeats the same numbers and offsets, and phonenumbers parsing costs ~20 µs.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache
from typing import NamedTuple

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType, shortnumberinfo

from pipeline.schema import NumberKind

_UNIX_EPOCH_ORDINAL = 719163  # date(1970, 1, 1).toordinal()
_MS_PER_DAY = 86_400_000
_OFFSET = re.compile(r"^([+-])(\d{2}):?(\d{2})$")
_VISUAL_SEPARATORS = str.maketrans("", "", " -().\t")
# Region-less numbers (non-geographic +800, +882...) report "001"; they have no destination country.
_NON_GEOGRAPHIC = "001"


class NormalizedNumber(NamedTuple):
    number: str  # E.164, or the short/emergency code as dialled, or the alphanumeric sender id
    kind: NumberKind
    country: str | None  # ISO alpha-2 of the number's region; None for short/emergency/alphanumeric


def strip_uri(raw: str) -> str:
    """The number inside a `tel:`/`sip:`/`sips:` URI (user part, parameters dropped), else `raw` trimmed."""
    text = raw.strip()
    lowered = text[:5].lower()
    if lowered.startswith(("tel:", "sip:")):
        text = text[4:]
    elif lowered.startswith("sips:"):
        text = text[5:]
    else:
        return text
    return text.split("@", 1)[0].split(";", 1)[0]


@lru_cache(maxsize=131_072)
def normalize_number(raw: str, home_region: str) -> NormalizedNumber | None:
    """E.164 (or short code / emergency / alphanumeric) of a dialled number, None when it is not valid.

    International prefixes follow the home region's plan (phonenumbers knows each region's IDD: `011`
    for US/NANP, `00` for most of the world). A `00` under US is therefore NOT an international prefix
    and such a number is invalid, never guessed into a foreign number.
    """
    text = strip_uri(raw).translate(_VISUAL_SEPARATORS)
    if not text:
        return None
    if not text.lstrip("+").isdigit():
        if text.isalnum() and any(ch.isalpha() for ch in text) and len(text) <= 11:
            return NormalizedNumber(text, NumberKind.ALPHANUMERIC, None)
        return None
    if text[0] != "+" and shortnumberinfo.is_emergency_number(text, home_region):
        return NormalizedNumber(text, NumberKind.EMERGENCY, None)
    try:
        parsed = phonenumbers.parse(text, home_region)
    except phonenumbers.NumberParseException:
        return None
    # number_type() is UNKNOWN exactly when is_valid_number() is false; calling it alone saves a
    # region lookup + type match per cache miss (~40 % of a miss).
    number_type = phonenumbers.number_type(parsed)
    if number_type != PhoneNumberType.UNKNOWN:
        region = phonenumbers.region_code_for_number(parsed)
        country = None if region in (None, _NON_GEOGRAPHIC) else region
        kind = NumberKind.PREMIUM_RATE if number_type == PhoneNumberType.PREMIUM_RATE else NumberKind.E164
        return NormalizedNumber(phonenumbers.format_number(parsed, PhoneNumberFormat.E164), kind, country)
    if text[0] != "+" and shortnumberinfo.is_valid_short_number_for_region(parsed, home_region):
        return NormalizedNumber(text, NumberKind.SHORT_CODE, None)
    return None


@lru_cache(maxsize=256)
def parse_utc_offset_min(text: str) -> int | None:
    """Minutes east of UTC of "+05:30" / "-0400" / "Z"; None when malformed or beyond ±14:00."""
    if text in ("Z", "+00:00", "00:00"):
        return 0
    match = _OFFSET.match(text)
    if match is None:
        return None
    sign, hours, minutes = match.groups()
    total = int(hours) * 60 + int(minutes)
    if int(minutes) >= 60 or total > 14 * 60:
        return None
    return -total if sign == "-" else total


def local_to_utc_ms(text: str, utc_offset_min: int) -> int | None:
    """UTC epoch ms of an ISO-8601 local time at `utc_offset_min`; an explicit offset in `text` wins."""
    # Fast path for the switches' fixed format "YYYY-MM-DDTHH:MM:SS" (no offset, no fraction): the
    # minute is parsed once and cached (records of a batch share a few minutes), the seconds looked up.
    if type(text) is str and len(text) == 19 and text[16] == ":":
        second = _SECONDS.get(text[17:])
        if second is not None:
            minute_ms = _naive_minute_ms(text[:16])
            if minute_ms is not None:
                return minute_ms + second * 1000 - utc_offset_min * 60_000
    return _general_local_to_utc_ms(text, utc_offset_min)


_SECONDS = {f"{second:02d}": second for second in range(60)}


def fixed_local_ms(text: str) -> int | None:
    """Local epoch ms of the switches' fixed format "YYYY-MM-DDTHH:MM:SS" (local_to_utc_ms' fast path
    before the offset), None for anything else (offsets, fractions, other forms: the general path)."""
    if len(text) == 19 and text[16] == ":":
        second = _SECONDS.get(text[17:])
        if second is not None:
            minute_ms = _naive_minute_ms(text[:16])
            if minute_ms is not None:
                return minute_ms + second * 1000
    return None


@lru_cache(maxsize=8192)
def _naive_minute_ms(text: str) -> int | None:
    """Local epoch ms of "YYYY-MM-DDTHH:MM"; None when it is not that (the general path decides)."""
    if text[4] != "-" or text[7] != "-" or text[13] != ":":
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is not None or moment.second or moment.microsecond:
        return None
    return (moment.toordinal() - _UNIX_EPOCH_ORDINAL) * _MS_PER_DAY + (
        moment.hour * 60 + moment.minute
    ) * 60_000


def _general_local_to_utc_ms(text: str, utc_offset_min: int) -> int | None:
    try:
        moment = datetime.fromisoformat(text)
    except (ValueError, TypeError):
        return None
    delta = moment.utcoffset()
    offset_min = utc_offset_min if delta is None else int(delta.total_seconds()) // 60
    local_ms = (
        (moment.toordinal() - _UNIX_EPOCH_ORDINAL) * _MS_PER_DAY
        + ((moment.hour * 60 + moment.minute) * 60 + moment.second) * 1000
        + moment.microsecond // 1000
    )
    return local_ms - offset_min * 60_000
