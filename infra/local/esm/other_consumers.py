"""Other applications polling the same stream: shared-throughput read contention, reproduced on purpose.

Each of `other_consumers` reads every shard with GetRecords through the limits proxy and discards the data.
Each polls a shard as often as one consumer may alone (every 1/5 s, the shard's 5 calls/s), so N + 1
consumers ask for (N + 1) x 5 calls/s of a budget of 5: each gets about a 1/(N + 1) share and the pipeline
sees records ~(N + 1) x 200 ms apart, the contention AWS describes for shared throughput.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from botocore.exceptions import ClientError

from capacity.quotas import GET_RECORDS_MAX_RECORDS, SHARD_GET_RECORDS_CALLS_PER_S

LOG = logging.getLogger(__name__)
POLL_INTERVAL_S = 1.0 / SHARD_GET_RECORDS_CALLS_PER_S


class OtherConsumer(threading.Thread):
    """One other consumer on one shard, from LATEST: it reads what the pipeline reads, as it arrives."""

    def __init__(
        self, kinesis: Any, stream_name: str, shard_id: str, index: int, stop: threading.Event
    ) -> None:
        super().__init__(name=f"other-consumer-{index}-{shard_id}", daemon=True)
        self.kinesis = kinesis
        self.stream_name = stream_name
        self.shard_id = shard_id
        self.stop = stop
        self.calls = 0
        self.throttles = 0
        self.records_read = 0

    def run(self) -> None:
        iterator: str | None = None
        while not self.stop.wait(POLL_INTERVAL_S):
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
    kinesis: Any, stream_name: str, shard_ids: list[str], count: int, stop: threading.Event
) -> list[OtherConsumer]:
    consumers = [
        OtherConsumer(kinesis, stream_name, shard_id, index, stop)
        for index in range(count)
        for shard_id in shard_ids
    ]
    for consumer in consumers:
        consumer.start()
    return consumers
