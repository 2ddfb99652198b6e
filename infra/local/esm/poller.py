"""One poller per shard: GetRecords through the limits proxy, handing records to the shard's lanes.

Polls again at once while records keep coming (behind) and about once a second when a poll comes back
empty (caught up), as Lambda does. Reads stop while the lanes hold more than `max_buffered_records`, so a
slow function shows up as iterator age instead of memory growth.
"""

from __future__ import annotations

import logging
from typing import Any

from botocore.exceptions import ClientError

from capacity.quotas import ESM_IDLE_POLL_INTERVAL_S, GET_RECORDS_MAX_RECORDS
from infra.local.esm.dispatch import ShardContext, ShardReader

LOG = logging.getLogger(__name__)
THROTTLE_BACKOFF_S = 0.2
THROTTLED = "ProvisionedThroughputExceededException"
# AWS/Kinesis's name for a refused GetRecords; counted per shard so read contention shows in metrics.csv.
READ_THROTTLE_METRIC = "ReadProvisionedThroughputExceeded"


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
            self._dispatch(response.get("Records", []))
            iterator = response.get("NextShardIterator")
            if iterator is None:
                self.closed = True  # a closed shard after a reshard: Lambda moves on to its children
                return
            if not response.get("Records"):
                self.stop.wait(ESM_IDLE_POLL_INTERVAL_S)
