"""Other applications polling the same stream: shared-throughput read contention, reproduced on purpose.

Each of `other_consumers` reads every shard with GetRecords through the limits proxy and discards the data.
Each polls a shard at its fair share of the shard's 5 calls/s, every (N + 1) x 200 ms with N others, as a
consumer that backs off to its share does; that leaves the pipeline's poller about 1/(N + 1) of the calls,
so it sees records ~(N + 1) x 200 ms apart: the contention AWS describes for shared throughput (~200 ms
with one consumer, ~1 s with five). A greedy consumer polling at the full 5 calls/s would starve the
others instead, which is not what that figure assumes.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from botocore.exceptions import ClientError

from capacity.quotas import GET_RECORDS_MAX_RECORDS, SHARD_GET_RECORDS_CALLS_PER_S

LOG = logging.getLogger(__name__)


def fair_share_interval_s(consumers: int, scale: float = 1.0) -> float:
    """Seconds between one consumer's calls when `consumers` share a shard's GetRecords calls evenly
    (`scale`: the limits proxy's scale of the shard limits)."""
    return consumers / (SHARD_GET_RECORDS_CALLS_PER_S * scale)


class OtherConsumer(threading.Thread):
    """One other consumer on one shard, from LATEST: it reads what the pipeline reads, as it arrives."""

    def __init__(
        self,
        kinesis: Any,
        stream_name: str,
        shard_id: str,
        index: int,
        interval_s: float,
        offset_s: float,
        stop: threading.Event,
    ) -> None:
        super().__init__(name=f"other-consumer-{index}-{shard_id}", daemon=True)
        self.kinesis = kinesis
        self.interval_s = interval_s
        self.offset_s = offset_s
        self.stream_name = stream_name
        self.shard_id = shard_id
        self.stop = stop
        self.calls = 0
        self.throttles = 0
        self.records_read = 0

    def run(self) -> None:
        iterator: str | None = None
        # Staggered starts: consumers polling in lockstep would meet an empty bucket together.
        if self.stop.wait(self.offset_s):
            return
        while not self.stop.wait(self.interval_s):
            try:
                if iterator is None:
                    iterator = self.kinesis.get_shard_iterator(
                        StreamName=self.stream_name, ShardId=self.shard_id, ShardIteratorType="LATEST"
                    )["ShardIterator"]
                self.calls += 1
                response = self.kinesis.get_records(ShardIterator=iterator, Limit=GET_RECORDS_MAX_RECORDS)
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") == "ProvisionedThroughputExceededException":
                    self.throttles += 1  # keep the iterator: the same call is allowed again later
                else:
                    iterator = None
                continue
            except Exception as error:  # the emulator went away for a moment
                LOG.debug("other consumer on %s: %s", self.shard_id, error)
                iterator = None
                continue
            self.records_read += len(response.get("Records", []))
            iterator = response.get("NextShardIterator")
            if iterator is None:
                return  # the shard closed


def start_other_consumers(
    kinesis: Any,
    stream_name: str,
    shard_ids: list[str],
    count: int,
    stop: threading.Event,
    interval_s: float | None = None,
) -> list[OtherConsumer]:
    """`count` consumers on every shard, polling every `interval_s` (default: their fair share)."""
    interval_s = interval_s or fair_share_interval_s(count + 1)
    consumers = [
        OtherConsumer(
            kinesis, stream_name, shard_id, index, interval_s, interval_s * index / (count + 1), stop
        )
        for index in range(count)
        for shard_id in shard_ids
    ]
    for consumer in consumers:
        consumer.start()
    return consumers
