"""One poller per shard: GetRecords through the limits proxy, handing records to the shard's lanes.

Polls again while records keep coming (behind), at most SHARD_GET_RECORDS_CALLS_PER_S calls a second
(start to start, paced rather than in bursts: a burst of back-to-back calls mostly comes back empty and
then waits the idle second), and once a second when a poll comes back empty (caught up), as Lambda does.
Reads stop while the lanes hold more than `max_buffered_records`, so a
slow function shows up as iterator age instead of memory growth.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from botocore.exceptions import ClientError

from capacity.quotas import (
    ESM_IDLE_POLL_INTERVAL_S,
    GET_RECORDS_MAX_RECORDS,
    SHARD_GET_RECORDS_CALLS_PER_S,
)
from infra.local.esm.dispatch import ShardContext, ShardReader
from infra.local.esm.telemetry import GET_RECORDS_LATENCY, PollRow

LOG = logging.getLogger(__name__)
THROTTLE_BACKOFF_S = 0.2
THROTTLED = "ProvisionedThroughputExceededException"
# AWS/Kinesis's name for a refused GetRecords; counted per shard so read contention shows in metrics.csv.
READ_THROTTLE_METRIC = "ReadProvisionedThroughputExceeded"


def poll_gap_s(records_returned: int, call_elapsed_s: float) -> float:
    """How long to wait after a GetRecords call that took `call_elapsed_s` before the next one."""
    if records_returned == 0:
        return ESM_IDLE_POLL_INTERVAL_S
    return max(0.0, 1.0 / SHARD_GET_RECORDS_CALLS_PER_S - call_elapsed_s)


class ShardPoller(ShardReader):
    def __init__(self, shard: ShardContext, kinesis: Any) -> None:
        super().__init__("poller", shard, kinesis)
        self.read_throttles = 0

    def _iterator(self) -> str:
        after = self.progress.last_read
        arguments: dict[str, Any] = {"StreamName": self.config.stream_name, "ShardId": self.shard_id}
        if after:
            arguments.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=after)
        else:
            arguments["ShardIteratorType"] = self.config.starting_position
        return str(self.kinesis.get_shard_iterator(**arguments)["ShardIterator"])

    def run(self) -> None:
        iterator: str | None = None
        while not self.stop.is_set():
            if self.progress.in_flight >= self.max_buffered_records:
                self.stop.wait(0.01)
                continue
            try:
                if iterator is None:
                    iterator = self._iterator()
                call_started_s = time.monotonic()
                call_epoch_ms = time.time() * 1000.0
                response = self.kinesis.get_records(ShardIterator=iterator, Limit=GET_RECORDS_MAX_RECORDS)
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code", "")
                if code == THROTTLED:
                    self.read_throttles += 1
                    self.telemetry.metric(READ_THROTTLE_METRIC, 1, self.shard_id)
                    self.stop.wait(THROTTLE_BACKOFF_S)
                elif code == "ExpiredIteratorException":
                    iterator = None
                else:
                    LOG.warning("GetRecords on %s failed: %s", self.shard_id, error)
                    iterator = None
                    self.stop.wait(ESM_IDLE_POLL_INTERVAL_S)
                continue
            except Exception as error:  # the emulator went away for a moment; keep the shard's place
                LOG.warning("GetRecords on %s failed: %s", self.shard_id, error)
                iterator = None
                self.stop.wait(ESM_IDLE_POLL_INTERVAL_S)
                continue
            call_s = time.monotonic() - call_started_s
            records = response.get("Records", [])
            self.telemetry.metric(GET_RECORDS_LATENCY, call_s * 1000.0, self.shard_id)
            call_ms = round(call_s * 1000.0, 3)
            self.telemetry.poll(PollRow(self.shard_id, int(call_epoch_ms), call_ms, len(records)))
            self._dispatch(records)
            iterator = response.get("NextShardIterator")
            if iterator is None:
                self.closed = True  # a closed shard after a reshard: Lambda moves on to its children
                return
            gap_s = poll_gap_s(len(records), call_s)
            if gap_s > 0:
                self.stop.wait(gap_s)
