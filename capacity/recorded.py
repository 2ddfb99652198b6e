"""The arrivals a run really had, read back from its stream: what a validation replays into the simulator.

After a local run the input stream still holds every record with its ApproximateArrivalTimestamp and
partition key. Replaying those times removes the producer from the comparison (how the load generator's
calls clump on a busy host is not what the capacity model is about) and leaves what is: polling, batching,
windows, lanes and service time. Lanes are assigned with the runtime's own rule (`lane_of`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from capacity.quotas import GET_RECORDS_MAX_RECORDS

MAX_READ_CALLS = 2_000  # bounds the read-back: 20 million records


@dataclass(frozen=True)
class RecordedArrivals:
    """Arrival times (epoch seconds, sorted) of the busiest lane and of its whole shard."""

    shard_id: str
    lane: int
    lane_epoch_s: np.ndarray
    shard_epoch_s: np.ndarray
    # The shard arrivals that end a gap which was the producer pausing while the host ran, not a stall
    # of the local stack (capacity.runtime_samples.pause_gaps); empty: every long gap is a stall.
    pause_ends_epoch_s: tuple[float, ...] = ()

    def lane_mask(self) -> np.ndarray:
        """Which of the (sorted) shard arrivals are the lane's, as a saved run can store them.

        Records of one PutRecords call share their arrival time, so a time alone does not say whose a
        record is: of the shard's records arriving at a time, as many are marked as the lane has at it."""
        shard = np.sort(self.shard_epoch_s)
        if shard.size == 0 or self.lane_epoch_s.size == 0:
            return np.zeros(shard.size, dtype=bool)
        times, lane_counts = np.unique(self.lane_epoch_s, return_counts=True)
        at = np.minimum(np.searchsorted(times, shard), times.size - 1)
        owned = np.where(times[at] == shard, lane_counts[at], 0)
        rank = np.arange(shard.size) - np.searchsorted(shard, shard, side="left")  # among its time's records
        return rank < owned

    @classmethod
    def from_mask(cls, shard_epoch_s: np.ndarray, in_lane: np.ndarray) -> RecordedArrivals:
        """The arrivals saved as (shard arrival times, lane mask) again, without shard and lane names."""
        order = np.argsort(shard_epoch_s, kind="stable")
        shard = shard_epoch_s[order]
        return cls("", 0, shard[in_lane[order]], shard)


def read_shard(kinesis: Any, stream: str, shard_id: str) -> list[tuple[float, str]]:
    """(arrival epoch s, partition key) of every record of one shard, from TRIM_HORIZON to the tip."""
    iterator = kinesis.get_shard_iterator(
        StreamName=stream, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records: list[tuple[float, str]] = []
    for _ in range(MAX_READ_CALLS):
        page = kinesis.get_records(ShardIterator=iterator, Limit=GET_RECORDS_MAX_RECORDS)
        records += [
            (r["ApproximateArrivalTimestamp"].timestamp(), r["PartitionKey"]) for r in page["Records"]
        ]
        iterator = page.get("NextShardIterator")
        if not page["Records"] or not iterator:  # MiniStack's MillisBehindLatest is unreliable
            break
    return records


def busiest_lane(
    shards: Iterable[tuple[str, list[tuple[float, str]]]],
    lanes: int,
    lane_of: Callable[[str, int], int],
    start_epoch_s: float,
    end_epoch_s: float,
) -> RecordedArrivals | None:
    """The lane with the most records arriving in [start, end), with its shard's arrivals."""
    best: RecordedArrivals | None = None
    for shard_id, records in shards:
        times = np.asarray([t for t, _ in records], dtype=float)
        lane_ids = np.asarray([lane_of(key, lanes) for _, key in records], dtype=int)
        inside = (times >= start_epoch_s) & (times < end_epoch_s)
        for lane in range(lanes):
            mine = lane_ids == lane
            if best is None or int((mine & inside).sum()) > int(
                ((best.lane_epoch_s >= start_epoch_s) & (best.lane_epoch_s < end_epoch_s)).sum()
            ):
                best = RecordedArrivals(shard_id, lane, np.sort(times[mine]), np.sort(times))
    return best


def stall_gap_s(recorded: RecordedArrivals, producers: int, call_interval_s: float) -> float:
    """The arrival gap beyond which a replayed local run's shard was stalled rather than idle.

    Each of the load generator's `producers` sends a call every `call_interval_s`, and the emulator stamps
    a record's arrival when it handles the put. A gap on the shard longer than one call interval therefore
    means the calls were held up, not that there was nothing to read: in the demo run of 2026-12-03 08:46
    each of the 15 gaps over 0.25 s on the replayed shard fell in seconds where the load generator's put
    p99 was >= 7x its median (212-944 ms: the emulator not answering) or its schedule lag >= 46x (758-1,727
    ms: the producer held up on the shared CPUs). The pipeline's poller, on the same host, was held up with
    them: after 6 of its 7 gaps over 0.39 s the first record after the gap was invoked 0.08-1.05 s after it
    arrived (window 1 s), where a poll come back empty in the gap would have added the idle second (the
    seventh, 1.9 s, fits that).
    That holds while a call puts at least one record on the shard on average; below that (or without
    paced producers) a gap may be real and inf is returned."""
    shard = recorded.shard_epoch_s
    if producers <= 0 or shard.size < 2:
        return math.inf
    span_s = float(shard.max() - shard.min())
    records_per_call = shard.size / max(span_s, 1e-9) * call_interval_s / producers
    return call_interval_s if records_per_call >= 1.0 else math.inf
