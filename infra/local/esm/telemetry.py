"""The runtime's measurements: per-second metrics with AWS/Lambda names and the invocation trace CSV, and
the same values published to CloudWatch when a publisher is given (the two must agree)."""

from __future__ import annotations

import csv
import math
import threading
import time
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from infra.local.esm.cloudwatch import LambdaPublisher
    from infra.local.esm.worker import InvokeResult

# How each metric folds within one second, as CloudWatch's usual statistic for it.
MAXIMUM_METRICS = frozenset({"IteratorAge", "ConcurrentExecutions"})
# GetRecords.Latency (ms, AWS/Kinesis's name): the poller's call time, the delay before polled records
# reach the lanes; the capacity model takes it as the read path's delivery time.
GET_RECORDS_LATENCY = "GetRecords.Latency"
AVERAGE_METRICS = frozenset({"Duration", GET_RECORDS_LATENCY})


@dataclass(frozen=True)
class TraceRow:
    """One handler invocation; the column order is the contract of the trace file."""

    invocation_id: str
    shard_id: str
    lane: int
    attempt: int
    start_epoch_ms: int
    end_epoch_ms: int
    duration_ms: float
    batch_records: int
    batch_bytes: int
    iterator_age_ms: float
    oldest_arrival_epoch_ms: int
    newest_arrival_epoch_ms: int
    e2e_p50_ms: float
    e2e_p99_ms: float
    e2e_max_ms: float
    outcome: str  # ok | partial | error | timeout
    failed_items: int
    # The REPORT line's Init Duration: only on an execution environment's first invocation (empty otherwise)
    init_duration_ms: float | None = None
    # When the lane's batch was due (its window ran out, it filled, or the lane freed with it already due)
    # and when the lane sent it: sent - due is the runtime's poll-to-invoke time, which the iterator age
    # (sent - newest arrival) includes. Empty where the source cannot know (CloudWatch Logs on AWS).
    due_epoch_ms: int | None = None
    sent_epoch_ms: int | None = None


TRACE_HEADER = [f.name for f in fields(TraceRow)]


@dataclass(frozen=True)
class PollRow:
    """One GetRecords call of a shard's poller: when it started, how long it took, what it returned. The
    records it returned reach the lanes at start + call; the capacity model draws its call times from
    these (capacity.simulate.PollDraws)."""

    shard_id: str
    start_epoch_ms: int
    call_ms: float
    records: int


POLL_HEADER = [f.name for f in fields(PollRow)]


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


class Telemetry:
    """Thread-safe sinks; `flush()` writes every finished second of metrics (the runtime calls it 1/s)."""

    def __init__(
        self,
        trace_path: Path,
        metrics_path: Path,
        cloudwatch: LambdaPublisher | None = None,
        polls_path: Path | None = None,
    ) -> None:
        self.trace_path = trace_path
        self.metrics_path = metrics_path
        self.polls_path = polls_path
        self.cloudwatch = cloudwatch
        self._lock = threading.Lock()
        self._values: dict[tuple[int, str, str], list[float]] = {}
        files = [(trace_path, TRACE_HEADER), (metrics_path, ["epoch_s", "metric", "value", "shard_id"])]
        if polls_path is not None:
            files.append((polls_path, POLL_HEADER))
        for path, header in files:
            if not path.exists() or path.stat().st_size == 0:
                path.parent.mkdir(parents=True, exist_ok=True)
                with open(path, "w", newline="") as handle:
                    csv.writer(handle).writerow(header)

    def metric(self, name: str, value: float, shard_id: str = "") -> None:
        if self.cloudwatch is not None:
            self.cloudwatch.metric(name, value)
        key = (int(time.time()), name, shard_id)
        with self._lock:
            slot = self._values.get(key)
            if slot is None:
                self._values[key] = [value, 1.0]
            elif name in MAXIMUM_METRICS:
                slot[0] = max(slot[0], value)
            else:
                slot[0] += value
                slot[1] += 1

    def invocation(self, result: InvokeResult) -> None:
        """One invocation's log lines (and the EMF metrics in them) to CloudWatch Logs."""
        if self.cloudwatch is not None:
            self.cloudwatch.invocation(result)

    def trace(self, row: TraceRow) -> None:
        with self._lock, open(self.trace_path, "a", newline="") as handle:
            csv.writer(handle).writerow(astuple(row))

    def poll(self, row: PollRow) -> None:
        """One GetRecords call (per call, not per second: the model draws from their spread)."""
        if self.polls_path is None:
            return
        with self._lock, open(self.polls_path, "a", newline="") as handle:
            csv.writer(handle).writerow(astuple(row))

    def flush(self, everything: bool = False) -> None:
        now_s = int(time.time())
        with self._lock:
            ready = sorted(k for k in self._values if everything or k[0] < now_s)
            rows = []
            for key in ready:
                total, count = self._values.pop(key)
                value = total / count if key[1] in AVERAGE_METRICS else total
                rows.append((key[0], key[1], round(value, 3), key[2]))
        if rows:
            with open(self.metrics_path, "a", newline="") as handle:
                csv.writer(handle).writerows(rows)
