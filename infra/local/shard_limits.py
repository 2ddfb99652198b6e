"""Per-shard token buckets and partition-key routing: the rules the limits proxy enforces.

Kept apart from the HTTP plumbing so the arithmetic is testable on its own and the proxy stays thin.
"""

from __future__ import annotations

import bisect
import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from capacity.quotas import (
    SHARD_GET_RECORDS_CALLS_PER_S,
    SHARD_READ_BYTES_PER_S,
    SHARD_WRITE_BYTES_PER_S,
    SHARD_WRITE_RECORDS_PER_S,
)

Clock = Callable[[], float]


@dataclass(frozen=True)
class ShardRates:
    """Per-shard limits after scaling; a scale of 0.1 makes each shard a tenth of an AWS shard.

    Only THROUGHPUT scales (records/s and bytes/s, written and read). The GetRecords call rate does not: a
    scale model shrinks how much a shard carries, not the clock, so a poller keeps AWS's cadence (5 calls/s
    while behind, Lambda's 1 s when caught up) and iterator age and latency keep their AWS meaning. Scaling
    the calls too made a 0.1 shard answer one poll every 2 s, which added ~1-2 s of iterator age that
    no AWS shard has.
    """

    write_records_per_s: float
    write_bytes_per_s: float
    read_calls_per_s: float
    read_bytes_per_s: float

    @classmethod
    def scaled(cls, scale: float) -> ShardRates:
        if scale <= 0:
            raise ValueError(f"scale must be > 0, got {scale}; use e.g. 0.1 for 100 records/s per shard")
        return cls(
            write_records_per_s=SHARD_WRITE_RECORDS_PER_S * scale,
            write_bytes_per_s=SHARD_WRITE_BYTES_PER_S * scale,
            read_calls_per_s=SHARD_GET_RECORDS_CALLS_PER_S,
            read_bytes_per_s=SHARD_READ_BYTES_PER_S * scale,
        )


class TokenBucket:
    """A bucket refilled continuously at `rate_per_s`, holding at most one second of tokens.

    A one-second burst is how AWS describes the shard limits ("per second"); `take_debt` lets reads go
    below zero, as a GetRecords call that returns more than the read budget blocks later calls instead.
    """

    __slots__ = ("_clock", "_stamp", "capacity", "level", "rate_per_s")

    def __init__(self, rate_per_s: float, clock: Clock = time.monotonic) -> None:
        self.rate_per_s = rate_per_s
        self.capacity = max(rate_per_s, 1.0)
        self.level = self.capacity
        self._clock = clock
        self._stamp = clock()

    def _refill(self) -> None:
        now = self._clock()
        self.level = min(self.capacity, self.level + (now - self._stamp) * self.rate_per_s)
        self._stamp = now

    def available(self) -> float:
        self._refill()
        return self.level

    def take(self, amount: float) -> bool:
        self._refill()
        if self.level < amount:
            return False
        self.level -= amount
        return True

    def take_debt(self, amount: float) -> None:
        self._refill()
        self.level -= amount


class ShardBuckets:
    """The four buckets of one shard; a lock per shard keeps concurrent requests exact."""

    def __init__(self, rates: ShardRates, clock: Clock = time.monotonic) -> None:
        self.lock = threading.Lock()
        self.write_records = TokenBucket(rates.write_records_per_s, clock)
        self.write_bytes = TokenBucket(rates.write_bytes_per_s, clock)
        self.read_calls = TokenBucket(rates.read_calls_per_s, clock)
        self.read_bytes = TokenBucket(rates.read_bytes_per_s, clock)

    def admit_write(self, record_bytes: int) -> bool:
        """Caller holds `lock`. Admit one record when both its count and its bytes fit."""
        if self.write_records.available() < 1 or self.write_bytes.available() < record_bytes:
            return False
        self.write_records.take(1)
        self.write_bytes.take(record_bytes)
        return True

    def admit_read(self) -> bool:
        """Caller holds `lock`. One GetRecords call, refused while the byte budget is in debt."""
        if self.read_bytes.available() <= 0:
            return False
        return self.read_calls.take(1)


@dataclass(frozen=True)
class ShardRange:
    shard_id: str
    starting_hash_key: int
    ending_hash_key: int


def hash_key_of(partition_key: str, explicit_hash_key: str | None = None) -> int:
    """Kinesis maps a record to a shard by the MD5 of its partition key read as a 128-bit integer."""
    if explicit_hash_key:
        return int(explicit_hash_key)
    return int.from_bytes(hashlib.md5(partition_key.encode("utf-8")).digest(), "big")


class ShardMap:
    """The open shards of one stream, sorted by hash range, for routing records."""

    def __init__(self, ranges: list[ShardRange]) -> None:
        self.ranges = sorted(ranges, key=lambda r: r.starting_hash_key)
        self._starts = [r.starting_hash_key for r in self.ranges]

    def shard_for(self, hash_key: int) -> str | None:
        index = bisect.bisect_right(self._starts, hash_key) - 1
        if index < 0:
            return None
        candidate = self.ranges[index]
        return candidate.shard_id if hash_key <= candidate.ending_hash_key else None

    @classmethod
    def from_list_shards(cls, shards: list[dict[str, object]]) -> ShardMap:
        """Build from ListShards' `Shards`; closed shards (with an ending sequence number) take no writes."""
        ranges = []
        for shard in shards:
            sequence_range = shard.get("SequenceNumberRange") or {}
            if isinstance(sequence_range, dict) and sequence_range.get("EndingSequenceNumber"):
                continue
            hash_range = shard["HashKeyRange"]
            assert isinstance(hash_range, dict)
            ranges.append(
                ShardRange(
                    shard_id=str(shard["ShardId"]),
                    starting_hash_key=int(hash_range["StartingHashKey"]),
                    ending_hash_key=int(hash_range["EndingHashKey"]),
                )
            )
        return cls(ranges)
