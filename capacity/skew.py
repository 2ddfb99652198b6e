"""Partition-key skew: where a key distribution lands on shards (MD5 hash ranges) and on PF lanes.

Kinesis maps a partition key to a shard by the 128-bit MD5 of the key, each shard owning a contiguous hash
range (uniform split assumed, as CreateStream and UpdateShardCount UNIFORM_SCALING make it). Within a shard,
a parallelization factor > 1 spreads keys over lanes while keeping each key on one lane (per-key order),
so a hot key caps its lane: neither more shards nor more lanes can split one key.

A distribution is a "head" of explicit keys with their traffic shares plus a "tail" share spread evenly
over the hash space (many subscribers, none individually visible). That is exact for a measured key count
and keeps an assumed Zipf population of millions fast.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from capacity.errors import CapacityError

_TOP_BITS = 2.0**64


def _hash_positions(keys: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(position in the hash space as a fraction in [0,1), an independent 64-bit value for the lane)."""
    high = np.empty(len(keys), dtype=np.float64)
    low = np.empty(len(keys), dtype=np.uint64)
    for index, key in enumerate(keys):
        digest = hashlib.md5(key.encode("utf-8")).digest()
        high[index] = int.from_bytes(digest[:8], "big") / _TOP_BITS
        low[index] = int.from_bytes(digest[8:], "big")
    return high, low


@dataclass(frozen=True)
class KeyDistribution:
    """Traffic shares of partition keys: explicit head keys plus an evenly spread tail."""

    head_keys: tuple[str, ...]
    head_shares: np.ndarray
    tail_share: float
    description: str = "uniform"
    _hash_high: np.ndarray = field(init=False, repr=False, compare=False)
    _hash_low: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        total = float(np.sum(self.head_shares)) + self.tail_share
        if self.tail_share < -1e-9 or np.any(self.head_shares < 0) or abs(total - 1.0) > 1e-6:
            raise CapacityError(f"key shares must be non-negative and sum to 1 (got {total:.6f})")
        high, low = _hash_positions(list(self.head_keys))
        object.__setattr__(self, "_hash_high", high)
        object.__setattr__(self, "_hash_low", low)

    @property
    def hottest_key_share(self) -> float:
        return float(self.head_shares.max()) if len(self.head_shares) else 0.0

    def shard_of_head_keys(self, shards: int) -> np.ndarray:
        return np.minimum((self._hash_high * shards).astype(np.int64), shards - 1)

    def lane_shares(self, shards: int, parallelization_factor: int) -> np.ndarray:
        """Traffic share of every (shard, lane), shape (shards, parallelization_factor)."""
        if shards < 1 or parallelization_factor < 1:
            raise CapacityError(f"shards {shards} and PF {parallelization_factor} must be >= 1")
        lanes = shards * parallelization_factor
        shares = np.full(lanes, self.tail_share / lanes)
        if len(self.head_keys):
            lane = (self._hash_low % np.uint64(parallelization_factor)).astype(np.int64)
            index = self.shard_of_head_keys(shards) * parallelization_factor + lane
            shares += np.bincount(index, weights=self.head_shares, minlength=lanes)
        return shares.reshape(shards, parallelization_factor)

    def max_lane_share(self, shards: int, parallelization_factor: int) -> float:
        if shards < 1 or parallelization_factor < 1:
            raise CapacityError(f"shards {shards} and PF {parallelization_factor} must be >= 1")
        lane = (self._hash_low % np.uint64(parallelization_factor)).astype(np.int64)
        index = self.shard_of_head_keys(shards) * parallelization_factor + lane
        return self._max_share(index, shards * parallelization_factor)

    def max_shard_share(self, shards: int) -> float:
        return self._max_share(self.shard_of_head_keys(shards), shards)

    def _max_share(self, bins: np.ndarray, count: int) -> float:
        """The largest of `count` bins' shares: the even tail plus the heaviest bin of head keys. Only the
        bins the head keys fall in are summed: a plan for millions of shards allocates nothing per shard."""
        head = 0.0
        if len(self.head_keys):
            occupied, where = np.unique(bins, return_inverse=True)
            head = float(np.bincount(where, weights=self.head_shares, minlength=len(occupied)).max())
        return self.tail_share / count + head


def uniform() -> KeyDistribution:
    """Many keys with even traffic (random or high-cardinality partition keys)."""
    return KeyDistribution((), np.zeros(0), 1.0, "uniform")


def from_counts(counts: Mapping[str, int | float]) -> KeyDistribution:
    """A measured distribution: records seen per partition key."""
    keys = [key for key, count in counts.items() if count > 0]
    if not keys:
        raise CapacityError("key counts are empty; pass at least one key with a positive count")
    values = np.array([float(counts[key]) for key in keys])
    return KeyDistribution(tuple(keys), values / values.sum(), 0.0, f"measured ({len(keys)} keys)")


def zipf(exponent: float, distinct_keys: int = 1_000_000, head_keys: int = 1_000) -> KeyDistribution:
    """An assumed Zipf population: key k (1-based rank) carries a share proportional to 1/k**exponent."""
    if exponent < 0:
        raise CapacityError(f"Zipf exponent {exponent} must be >= 0 (0 is uniform)")
    if distinct_keys < 1:
        raise CapacityError(f"distinct_keys {distinct_keys} must be >= 1")
    ranks = np.arange(1, distinct_keys + 1, dtype=np.float64)
    weights = ranks**-exponent
    weights /= weights.sum()
    head = min(head_keys, distinct_keys)
    keys = tuple(f"zipf-key-{rank}" for rank in range(1, head + 1))
    tail = float(max(0.0, 1.0 - weights[:head].sum()))
    return KeyDistribution(keys, weights[:head], tail, f"zipf s={exponent:g} over {distinct_keys} keys")


def hot_key(share: float, key: str = "hot-key") -> KeyDistribution:
    """One key carrying `share` of all traffic, the rest spread evenly."""
    if not 0.0 <= share <= 1.0:
        raise CapacityError(f"hot-key share {share} must be within 0..1")
    return KeyDistribution((key,), np.array([share]), 1.0 - share, f"hot key {share:.1%}")
