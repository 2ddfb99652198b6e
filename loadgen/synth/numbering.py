"""National numbering plans of the home regions and weighted international destinations.

Numbers are kept as integers (national significant number, NSN) so millions of them cost one int64 array;
prefixes are real mobile ranges that `phonenumbers` accepts as valid (checked by the unit tests).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class NumberingPlan:
    """A home region: its network identity, clock and the shape of its subscribers' numbers."""

    region: str  # ISO 3166 alpha-2
    country_code: int
    mcc: str
    mnc: str
    utc_offset_min: int  # the switch's zone (a fixed offset; DST is out of scope of the synthetic load)
    international_prefix: str  # "011" in NANP, "00" elsewhere
    national_prefix: str  # trunk prefix dialled before the NSN ("" in NANP raw 10-digit form)
    mobile_prefixes: tuple[int, ...]  # NPA (US) or mobile range prefix
    nsn_digits: int
    short_codes: tuple[int, ...]  # SMS short codes valid in the region (phonenumbers' short-number data)
    # NANP: the exchange code (NXX) follows the area code and must start 2-9 and not be N11.
    nanp_exchange: bool = False

    @property
    def utc_offset(self) -> str:
        sign = "-" if self.utc_offset_min < 0 else "+"
        hours, minutes = divmod(abs(self.utc_offset_min), 60)
        return f"{sign}{hours:02d}:{minutes:02d}"


# Area codes in service (NANPA) in large US metros; a sample, not the whole plan.
_US_AREA_CODES = (
    201, 202, 206, 212, 213, 214, 215, 216, 224, 267, 301, 305, 310, 312, 313, 314, 323, 347, 404, 408,
    410, 412, 415, 469, 503, 504, 510, 512, 602, 612, 614, 617, 619, 646, 650, 678, 702, 704, 713, 718,
    720, 732, 773, 786, 813, 818, 832, 917, 949, 972,
)  # fmt: skip

PLANS: dict[str, NumberingPlan] = {
    "US": NumberingPlan(
        region="US",
        country_code=1,
        mcc="310",
        mnc="260",
        utc_offset_min=-300,
        international_prefix="011",
        national_prefix="",
        mobile_prefixes=_US_AREA_CODES,
        nsn_digits=10,
        short_codes=(611, 2020, 72345, 33733, 89898),
        nanp_exchange=True,
    ),
    "DE": NumberingPlan(
        region="DE",
        country_code=49,
        mcc="262",
        mnc="01",
        utc_offset_min=60,
        international_prefix="00",
        national_prefix="0",
        mobile_prefixes=(151, 152, 157, 160, 170, 171, 172, 175, 176, 178, 179),
        nsn_digits=11,
        short_codes=(116116, 11833, 44844),
    ),
    "IN": NumberingPlan(
        region="IN",
        country_code=91,
        mcc="404",
        mnc="45",
        utc_offset_min=330,
        international_prefix="00",
        national_prefix="0",
        mobile_prefixes=(98450, 98860, 99000, 97400, 96860, 94480, 90080, 88670, 80500, 73490),
        nsn_digits=10,
        short_codes=(121, 198, 1909, 55555, 56070),
    ),
}


def random_nsn(plan: NumberingPlan, rng: np.random.Generator, n: int) -> np.ndarray:
    """`n` national significant numbers of the plan's mobile ranges (int64)."""
    prefixes = np.asarray(plan.mobile_prefixes, dtype=np.int64)
    prefix = prefixes[rng.integers(0, len(prefixes), n)]
    prefix_digits = len(str(plan.mobile_prefixes[0]))
    rest_digits = plan.nsn_digits - prefix_digits
    if plan.nanp_exchange:
        exchange = rng.integers(200, 1000, n)
        # N11 codes are service codes and 555 is mostly fictional: move them to the next exchange.
        exchange = np.where((exchange % 100 == 11) | (exchange == 555), exchange + 1, exchange)
        line = rng.integers(0, 10_000, n)
        return np.asarray(prefix * 10**rest_digits + exchange * 10_000 + line, dtype=np.int64)
    return np.asarray(prefix * 10**rest_digits + rng.integers(0, 10**rest_digits, n), dtype=np.int64)


@dataclass(frozen=True)
class Destination:
    """An international destination: mobile ranges of a country and its share of international calls."""

    region: str
    country_code: int
    prefixes: tuple[int, ...]
    nsn_digits: int
    weight: float
    high_risk: bool = False  # International Revenue Share Fraud target ranges


DESTINATIONS: tuple[Destination, ...] = (
    Destination("MX", 52, (552, 553, 331, 818), 10, 0.22),
    Destination("IN", 91, (98450, 99000), 10, 0.14),
    Destination("GB", 44, (7912, 7400), 10, 0.10),
    Destination("PH", 63, (917, 918), 10, 0.08),
    Destination("CN", 86, (139, 138), 11, 0.08),
    Destination("DE", 49, (151, 170), 11, 0.07),
    Destination("CA", 1, (416, 604), 10, 0.07),
    Destination("NG", 234, (803, 806), 10, 0.05),
    Destination("FR", 33, (612, 687), 9, 0.05),
    Destination("DO", 1, (809, 829), 10, 0.05),
    Destination("CO", 57, (310, 300), 10, 0.04),
    Destination("US", 1, (212, 415), 10, 0.05),
    # High-risk IRSF ranges (small weight in normal traffic, targeted by the IRSF scenario).
    Destination("CU", 53, (52, 53), 8, 0.005, high_risk=True),
    Destination("SO", 252, (61, 90), 9, 0.005, high_risk=True),
    Destination("GN", 224, (62, 66), 9, 0.005, high_risk=True),
    Destination("SL", 232, (76, 77), 8, 0.005, high_risk=True),
    Destination("LV", 371, (20, 21), 8, 0.005, high_risk=True),
)


def destination_numbers(
    destinations: tuple[Destination, ...], rng: np.random.Generator, n: int, *, weighted: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """(`country_code`, `nsn`) int64 arrays of `n` numbers drawn from `destinations` by weight."""
    weights = np.array([d.weight if weighted else 1.0 for d in destinations])
    which = rng.choice(len(destinations), size=n, p=weights / weights.sum())
    cc = np.zeros(n, dtype=np.int64)
    nsn = np.zeros(n, dtype=np.int64)
    for index, dest in enumerate(destinations):
        mask = which == index
        count = int(mask.sum())
        if not count:
            continue
        prefixes = np.asarray(dest.prefixes, dtype=np.int64)
        rest = dest.nsn_digits - len(str(dest.prefixes[0]))
        cc[mask] = dest.country_code
        nsn[mask] = prefixes[rng.integers(0, len(prefixes), count)] * 10**rest + rng.integers(
            0, 10**rest, count
        )
    if any(d.country_code == 1 for d in destinations):
        # NANP destinations need a valid exchange code too (first digit 2-9).
        nanp = cc == 1
        exchange_digit = nsn // 10**6 % 10
        nsn = np.where(nanp & (exchange_digit < 2), nsn + 2 * 10**6, nsn)
    return cc, nsn
