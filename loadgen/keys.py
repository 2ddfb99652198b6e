"""Partition-key strategies and the per-shard load they cause (Kinesis: MD5(key) -> 128-bit hash range).

Predicting the load per shard before a run catches a hot key or a skewed strategy that would throttle
one shard while the stream as a whole looks under its limits.
"""

from __future__ import annotations

import bisect
import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from loadgen.errors import LoadConfigError

if TYPE_CHECKING:
    from loadgen.synth.traffic import Columns

KEY_KINDS = ("subscriber", "cell", "random", "hot")
HOT_KEY = "hot-key"


@dataclass(frozen=True)
class KeyStrategy:
    kind: str = "subscriber"
    hot_share: float = 0.2  # with kind "hot": this share of records uses one key, the rest "subscriber"

    def __post_init__(self) -> None:
        if self.kind not in KEY_KINDS:
            raise LoadConfigError(f"partition key strategy {self.kind!r} unknown; choose one of {KEY_KINDS}")
        if not 0.0 <= self.hot_share <= 1.0:
            raise LoadConfigError(f"hot_share={self.hot_share} must be within [0, 1]")


def _format_all(pattern: str, values: list[Any]) -> list[str]:
    if not values:
        return []
    return ((pattern + "\n") * len(values) % tuple(values)).split("\n")[:-1]


def partition_keys(strategy: KeyStrategy, cols: Columns, rng: np.random.Generator) -> list[str]:
    """One key per record. Subscriber keys are pseudonyms (index), never the MSISDN: keys show up in logs."""
    n = len(cols)
    if strategy.kind == "cell":
        return _format_all("c%d", cols.cell_id.tolist())
    if strategy.kind == "random":
        return _format_all("%032x", rng.integers(0, 2**63, n).tolist())
    keys = _format_all("s%d", cols.sub.tolist())
    if strategy.kind == "hot":
        for i in np.flatnonzero(rng.random(n) < strategy.hot_share).tolist():
            keys[i] = HOT_KEY
    return keys


def hash_key(key: str) -> int:
    """Kinesis' hash of a partition key: the MD5 digest read as an unsigned 128-bit big-endian int."""
    return int.from_bytes(hashlib.md5(key.encode(), usedforsecurity=False).digest(), "big")


@dataclass(frozen=True)
class ShardRange:
    shard_id: str
    starting_hash: int
    ending_hash: int

    @classmethod
    def from_list_shards(cls, shard: dict[str, Any]) -> ShardRange:
        hash_range = shard["HashKeyRange"]
        return cls(shard["ShardId"], int(hash_range["StartingHashKey"]), int(hash_range["EndingHashKey"]))


def open_shards(kinesis: Any, stream_name: str) -> list[ShardRange]:
    """The open shards of a stream (ListShards, paginated), sorted by hash range."""
    shards: list[ShardRange] = []
    kwargs: dict[str, Any] = {"StreamName": stream_name}
    while True:
        page = kinesis.list_shards(**kwargs)
        shards += [
            ShardRange.from_list_shards(s)
            for s in page["Shards"]
            if "EndingSequenceNumber" not in s.get("SequenceNumberRange", {})
        ]
        token = page.get("NextToken")
        if not token:
            return sorted(shards, key=lambda s: s.starting_hash)
        kwargs = {"NextToken": token}


def even_shards(count: int) -> list[ShardRange]:
    """The hash ranges CreateStream gives `count` shards (equal split), for planning without a stream."""
    top = 2**128
    bounds = [top * i // count for i in range(count + 1)]
    return [ShardRange(f"shardId-{i:012d}", bounds[i], bounds[i + 1] - 1) for i in range(count)]


@dataclass(frozen=True)
class ShardLoad:
    shard_id: str
    records_per_s: float
    bytes_per_s: float
    share: float

    def exceeds(self, max_records_per_s: float, max_bytes_per_s: float) -> bool:
        return self.records_per_s > max_records_per_s or self.bytes_per_s > max_bytes_per_s


def predict_shard_load(
    keys: list[str], record_bytes: list[int], shards: list[ShardRange], rate_rps: float
) -> list[ShardLoad]:
    """Per-shard records/s and bytes/s when records like the sample (`keys`, sizes) arrive at `rate_rps`."""
    if not shards or not keys:
        return []
    starts = [s.starting_hash for s in shards]
    counts = np.zeros(len(shards))
    sizes = np.zeros(len(shards))
    for key, size in zip(keys, record_bytes, strict=True):
        index = bisect.bisect_right(starts, hash_key(key)) - 1
        counts[index] += 1
        # Kinesis counts the partition key's bytes against the shard's 1 MiB/s too.
        sizes[index] += size + len(key.encode())
    total = len(keys)
    return [
        ShardLoad(s.shard_id, rate_rps * counts[i] / total, rate_rps * sizes[i] / total, counts[i] / total)
        for i, s in enumerate(shards)
    ]


def overloaded(loads: list[ShardLoad], max_records_per_s: float, max_bytes_per_s: float) -> list[str]:
    """Warnings, one per shard predicted over a write limit."""
    return [
        f"shard {load.shard_id} would receive {load.records_per_s:,.0f} records/s and "
        f"{load.bytes_per_s / 1024:,.0f} KiB/s ({load.share:.0%} of the keys), over its limit of "
        f"{max_records_per_s:,.0f} records/s / {max_bytes_per_s / 1024:,.0f} KiB/s: expect throttling"
        for load in loads
        if load.exceeds(max_records_per_s, max_bytes_per_s)
    ]
