"""The AWS/Kinesis stream metrics the limits proxy sees pass, published by StreamName as AWS does:
IncomingRecords/IncomingBytes (accepted writes), Write/ReadProvisionedThroughputExceeded (refused records,
refused GetRecords calls) and GetRecords.IteratorAgeMilliseconds (the age of a call's last record)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from infra.local.cloudwatch_sink import CloudWatchSink

KINESIS_NAMESPACE = "AWS/Kinesis"


@dataclass(frozen=True)
class KinesisMetrics:
    sink: CloudWatchSink

    def _put(self, stream: str, name: str, value: float, unit: str) -> None:
        self.sink.metric(KINESIS_NAMESPACE, name, value, (("StreamName", stream),), unit)

    def writes(self, stream: str, accepted_records: int, accepted_bytes: int, throttled_records: int) -> None:
        self._put(stream, "IncomingRecords", accepted_records, "Count")
        self._put(stream, "IncomingBytes", accepted_bytes, "Bytes")
        self._put(stream, "WriteProvisionedThroughputExceeded", throttled_records, "Count")

    def read_throttled(self, stream: str) -> None:
        self._put(stream, "ReadProvisionedThroughputExceeded", 1, "Count")

    def read(self, stream: str, records: list[dict[str, Any]]) -> None:
        """A successful GetRecords: its last record's age (0 when caught up, as AWS reports it)."""
        self._put(stream, "ReadProvisionedThroughputExceeded", 0, "Count")
        age_ms = 0.0
        if records:
            arrival_s = records[-1].get("ApproximateArrivalTimestamp")
            if isinstance(arrival_s, int | float):
                age_ms = max(0.0, time.time() - float(arrival_s)) * 1000.0
        self._put(stream, "GetRecords.IteratorAgeMilliseconds", age_ms, "Milliseconds")
