"""The subscriber population and the radio cells, as column arrays (no per-subscriber Python objects).

One million subscribers cost ~40 MB of int64/float64 arrays and ~0.2 s to build.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from loadgen.synth.config import SynthConfig
from loadgen.synth.numbering import PLANS, NumberingPlan, random_nsn

# Visited networks of roaming subscribers: (MCC, MNC) of real operators.
VISITED_NETWORKS: tuple[tuple[str, str], ...] = (
    ("234", "15"),
    ("262", "02"),
    ("208", "01"),
    ("334", "020"),
    ("214", "07"),
    ("302", "720"),
)
# Type Allocation Codes (first 8 IMEI digits) of a few common handsets.
_TACS = (35332509, 35391110, 35875110, 86891203, 35926510, 35446211)
# Centre (lat, lon) of the home region, for cell locations.
_REGION_CENTRES = {"US": (39.8, -98.6), "DE": (51.2, 10.4), "IN": (22.0, 79.0)}


def luhn_check_digit(body: np.ndarray) -> np.ndarray:
    """The Luhn check digit of each 14-digit IMEI body (vectorised)."""
    total = np.zeros(body.shape, dtype=np.int64)
    rest = body.copy()
    for position in range(14):  # from the rightmost digit: it is doubled
        digit = rest % 10
        rest //= 10
        if position % 2 == 0:
            doubled = digit * 2
            digit = doubled - 9 * (doubled > 9)
        total += digit
    return np.asarray((10 - total % 10) % 10, dtype=np.int64)


@dataclass(frozen=True)
class Cells:
    cell_id: np.ndarray  # int64
    lac: np.ndarray  # int64, LAC/TAC: cells grouped by ~50
    lat: np.ndarray  # float64 degrees
    lon: np.ndarray

    @classmethod
    def build(cls, count: int, region: str, rng: np.random.Generator) -> Cells:
        lat0, lon0 = _REGION_CENTRES.get(region, (0.0, 0.0))
        # Cells cluster around a few cities rather than spreading evenly.
        cities = rng.normal(0.0, 4.0, size=(12, 2))
        city = rng.integers(0, len(cities), count)
        cell_id = np.arange(count, dtype=np.int64) * 7 + 10_001
        return cls(
            cell_id=cell_id,
            lac=cell_id // 350 + 100,
            lat=lat0 + cities[city, 0] + rng.normal(0.0, 0.15, count),
            lon=lon0 + cities[city, 1] + rng.normal(0.0, 0.15, count),
        )


@dataclass(frozen=True)
class Population:
    """Subscriber i: number `nsn[i]`, IMSI, IMEI, home cell, roaming flag, activity weight."""

    plan: NumberingPlan
    nsn: np.ndarray  # int64 national significant number
    imsi: np.ndarray  # int64, 15 digits: MCC MNC MSIN
    imei: np.ndarray  # int64, 15 digits with Luhn check digit
    home_cell: np.ndarray  # int64 index into Cells
    roaming: np.ndarray  # bool
    visited: np.ndarray  # int64 index into VISITED_NETWORKS (meaningful when roaming)
    by_rank: np.ndarray  # int64: the subscriber of activity rank r (0 = most active)
    zipf_exponent: float
    cells: Cells

    @classmethod
    def build(cls, config: SynthConfig, rng: np.random.Generator) -> Population:
        n = config.subscribers
        plan = PLANS[config.home_region]
        network = int(plan.mcc + plan.mnc)
        msin_digits = 15 - len(plan.mcc + plan.mnc)
        # A bijection of the index keeps IMSIs unique without a set of a million entries.
        msin = (np.arange(n, dtype=np.int64) * 7_919 + int(rng.integers(0, 10**6))) % 10**msin_digits
        tac = np.asarray(_TACS, dtype=np.int64)[rng.integers(0, len(_TACS), n)]
        body = tac * 10**6 + rng.integers(0, 10**6, n)
        # Zipf-like activity: the subscriber of rank r weighs r**-s; ranks are shuffled over subscribers.
        by_rank = rng.permutation(n).astype(np.int64)
        cells = Cells.build(config.cells, config.home_region, rng)
        return cls(
            plan=plan,
            nsn=random_nsn(plan, rng, n),
            imsi=network * 10**msin_digits + msin,
            imei=body * 10 + luhn_check_digit(body),
            home_cell=rng.integers(0, config.cells, n),
            roaming=rng.random(n) < config.roaming_share,
            visited=rng.integers(0, len(VISITED_NETWORKS), n),
            by_rank=by_rank,
            zipf_exponent=config.zipf_exponent,
            cells=cells,
        )

    @property
    def size(self) -> int:
        return int(self.nsn.shape[0])

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """`n` subscriber indices drawn by activity weight.

        Inverse CDF of the continuous power law r**-s on [1, N+1): O(1) per draw, where a binary search
        over a million-entry CDF costs ~20 cache misses; it is within a few % of the discrete Zipf's shares.
        """
        u = rng.random(n)
        top = float(self.size + 1)
        s = self.zipf_exponent
        power_law = abs(s - 1.0) >= 1e-9
        rank = (1.0 + u * (top ** (1.0 - s) - 1.0)) ** (1.0 / (1.0 - s)) if power_law else top**u
        index = np.minimum(rank.astype(np.int64) - 1, self.size - 1)
        return np.asarray(self.by_rank[index], dtype=np.int64)

    def activity_share(self, top_fraction: float) -> float:
        """The share of draws the most active `top_fraction` of subscribers get (for tests and docs)."""
        s, top = self.zipf_exponent, float(self.size + 1)
        cut = 1.0 + top_fraction * self.size
        if abs(s - 1.0) < 1e-9:
            return float(np.log(cut) / np.log(top))
        return float((cut ** (1.0 - s) - 1.0) / (top ** (1.0 - s) - 1.0))
