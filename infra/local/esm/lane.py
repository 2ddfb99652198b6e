"""One lane of a shard (a "virtual shard" of the parallelization factor): batching, invocation, errors.

Records of one partition key always land in the same lane and a lane runs one batch at a time, so
per-key order holds. Error handling follows Lambda for Kinesis: bisect on function error (splits do not
use up retries), ReportBatchItemFailures (retry from the lowest failed sequence number), MaximumRetryAttempts,
MaximumRecordAgeInSeconds, and the on-failure destination for whatever is given up on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from infra.local.esm.checkpoints import ShardProgress
from infra.local.esm.config import EsmConfig
from infra.local.esm.events import EVENT_FRAME_BYTES, StreamRecord, event_json
from infra.local.esm.pool import WorkerPool
from infra.local.esm.telemetry import Telemetry, TraceRow, percentile
from infra.local.esm.worker import InvokeResult

LOG = logging.getLogger(__name__)
RETRY_BACKOFF_MAX_S = 1.0
CONDITION_RETRIES = "RetryAttemptsExhausted"
CONDITION_AGE = "RecordAgeExceeded"

OnFailure = Callable[[list[StreamRecord], str, int, "str | None"], None]


@dataclass
class Shared:
    """What every lane of the runtime shares."""

    config: EsmConfig
    pool: WorkerPool
    telemetry: Telemetry
    on_failure: OnFailure
    stop: threading.Event
    in_flight: list[int]  # one counter, guarded by in_flight_lock
    in_flight_lock: threading.Lock


class Lane(threading.Thread):
    def __init__(self, shared: Shared, shard_id: str, index: int, progress: ShardProgress) -> None:
        super().__init__(name=f"lane-{shard_id}-{index}", daemon=True)
        self.shared = shared
        self.config = shared.config
        self.shard_id = shard_id
        self.index = index
        self.progress = progress
        self._buffer: deque[StreamRecord] = deque()
        self._buffer_since_s = 0.0
        # When the buffer last reached a full batch (size or payload cap); None while it holds less.
        self._full_since_s: float | None = None
        self._buffer_bytes = 0  # sum of the buffered records' event entries, for the payload cap
        self._ready = threading.Condition()
        self._invocations = 0

    # -- batching -------------------------------------------------------------------------------------

    def offer(self, records: list[StreamRecord]) -> None:
        with self._ready:
            if not self._buffer:
                self._buffer_since_s = time.monotonic()
            self._buffer.extend(records)
            self._buffer_bytes += sum(len(r.event_json) + 1 for r in records)
            if self._full_since_s is None and self._is_full():
                self._full_since_s = time.monotonic()
            self._ready.notify()

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def _is_full(self) -> bool:
        if len(self._buffer) >= self.config.batch_size:
            return True
        # Each buffered entry was counted with its separating comma; a batch has one comma fewer.
        return EVENT_FRAME_BYTES + self._buffer_bytes - 1 >= self.config.payload_limit_bytes

    def _batch_is_due(self) -> bool:
        if not self._buffer:
            return False
        if time.monotonic() - self._buffer_since_s >= self.config.batching_window_s:
            return True
        return self._is_full()

    def _due_epoch_ms(self, free_since_s: float) -> int:
        """When the batch being taken became due: the window's end or the moment the buffer filled,
        whichever came first, and not before the lane was free for it (monotonic clock to epoch)."""
        ready_s = self._buffer_since_s + self.config.batching_window_s
        if self._full_since_s is not None:
            ready_s = min(ready_s, self._full_since_s)
        due_s = max(ready_s, free_since_s)
        return int(time.time() * 1000.0 - max(0.0, time.monotonic() - due_s) * 1000.0)

    def _next_batch(self) -> tuple[list[StreamRecord], int] | None:
        """Wait until the batch size, the window or the payload cap says go; the batch and when it was
        due (epoch ms); None when stopping."""
        free_since_s = time.monotonic()
        with self._ready:
            while not self.shared.stop.is_set() and not self._batch_is_due():
                if self._buffer:
                    remaining_s = self.config.batching_window_s - (time.monotonic() - self._buffer_since_s)
                    self._ready.wait(timeout=max(0.001, min(remaining_s, 0.25)))
                else:
                    self._ready.wait(timeout=0.25)
            if self.shared.stop.is_set():
                return None
            due_epoch_ms = self._due_epoch_ms(free_since_s)
            batch: list[StreamRecord] = []
            size = EVENT_FRAME_BYTES
            while self._buffer and len(batch) < self.config.batch_size:
                entry = len(self._buffer[0].event_json) + (1 if batch else 0)
                if batch and size + entry > self.config.payload_limit_bytes:
                    break
                batch.append(self._buffer.popleft())
                self._buffer_bytes -= len(batch[-1].event_json) + 1
                size += entry
            self._full_since_s = None
            if self._buffer:
                self._buffer_since_s = time.monotonic()
                if self._is_full():
                    self._full_since_s = self._buffer_since_s
            return batch, due_epoch_ms

    def run(self) -> None:
        while True:
            taken = self._next_batch()
            if taken is None:
                return
            batch, due_epoch_ms = taken
            try:
                self._process(batch, due_epoch_ms)
            except Exception:  # e.g. the DLQ unreachable for a moment: keep the lane alive, try again
                LOG.exception("lane %s/%d failed to process a batch; retrying it", self.shard_id, self.index)
                self._put_back(batch)
                self.shared.stop.wait(RETRY_BACKOFF_MAX_S)

    def _put_back(self, batch: list[StreamRecord]) -> None:
        """Return a batch to the front of the buffer (its records may be delivered twice: at least once)."""
        with self._ready:
            self._buffer.extendleft(reversed(batch))
            self._buffer_bytes += sum(len(r.event_json) + 1 for r in batch)
            self._buffer_since_s = time.monotonic() - self.config.batching_window_s
            self._full_since_s = None

    # -- error handling -------------------------------------------------------------------------------

    def _retries_exhausted(self, retries: int) -> bool:
        return self.config.max_retry_attempts != -1 and retries >= self.config.max_retry_attempts

    def _expire(self, records: list[StreamRecord], invoke_count: int) -> list[StreamRecord]:
        """Drop records older than MaximumRecordAgeInSeconds (they are the oldest, so a prefix)."""
        if self.config.max_record_age_s == -1:
            return records
        oldest_allowed_s = time.time() - self.config.max_record_age_s
        cut = 0
        while cut < len(records) and records[cut].arrival_epoch_s < oldest_allowed_s:
            cut += 1
        if cut:
            self._give_up(records[:cut], CONDITION_AGE, invoke_count, None)
        return records[cut:]

    def _give_up(
        self, records: list[StreamRecord], condition: str, invoke_count: int, error: str | None
    ) -> None:
        self.shared.telemetry.metric("DroppedEventCount", len(records), self.shard_id)
        self.shared.on_failure(records, condition, invoke_count, error)
        self.progress.complete(records)

    def _process(self, batch: list[StreamRecord], due_epoch_ms: int | None = None) -> None:
        """Invoke the batch until done; `due_epoch_ms` (when it became due) goes with its first call."""
        work: deque[tuple[list[StreamRecord], int]] = deque([(batch, 0)])  # (records, retries used)
        while work and not self.shared.stop.is_set():
            records, retries = work.popleft()
            records = self._expire(records, retries)
            if not records:
                continue
            result, outcome, failed_from = self._invoke(records, retries + 1, due_epoch_ms)
            due_epoch_ms = None  # a retry or a bisected half is due when the runtime decides, not the window
            if outcome == "ok":
                self.progress.complete(records)
                continue
            if outcome == "partial":
                self.progress.complete(records[:failed_from])
                records = records[failed_from:]
            elif self.config.bisect_batch_on_function_error and len(records) > 1:
                middle = len(records) // 2
                work.extendleft([(records[middle:], retries), (records[:middle], retries)])
                continue
            if self._retries_exhausted(retries):
                self._give_up(records, CONDITION_RETRIES, retries + 1, "Unhandled" if result.error else None)
                continue
            self.shared.stop.wait(min(RETRY_BACKOFF_MAX_S, 0.05 * 2**retries))
            work.appendleft((records, retries + 1))

    # -- invocation -----------------------------------------------------------------------------------

    def _invoke(
        self, records: list[StreamRecord], attempt: int, due_epoch_ms: int | None = None
    ) -> tuple[InvokeResult, str, int]:
        """Invoke once; returns the result, the outcome and, for `partial`, the index to retry from."""
        config = self.config
        telemetry = self.shared.telemetry
        sent_ms = time.time() * 1000
        iterator_age_ms = max(0.0, sent_ms - records[-1].arrival_epoch_ms)
        with self.shared.in_flight_lock:
            self.shared.in_flight[0] += 1
            concurrent = self.shared.in_flight[0]
        telemetry.metric("ConcurrentExecutions", concurrent)
        try:
            result = self.shared.pool.invoke(
                event_json(records),
                config.function_name,
                config.function_arn,
                config.memory_mb,
                config.function_timeout_s,
            )
        finally:
            with self.shared.in_flight_lock:
                self.shared.in_flight[0] -= 1
        outcome, failed_from = self._outcome(result, records)
        failed = len(records) - failed_from if outcome != "ok" else 0
        duration_ms = result.end_epoch_ms - result.start_epoch_ms
        e2e = sorted(result.end_epoch_ms - r.arrival_epoch_ms for r in records)
        self._invocations += 1
        telemetry.trace(
            TraceRow(
                invocation_id=result.request_id,
                shard_id=self.shard_id,
                lane=self.index,
                attempt=attempt,
                start_epoch_ms=int(result.start_epoch_ms),
                end_epoch_ms=int(result.end_epoch_ms),
                duration_ms=round(duration_ms, 3),
                batch_records=len(records),
                batch_bytes=sum(r.data_bytes for r in records),
                iterator_age_ms=round(iterator_age_ms, 3),
                oldest_arrival_epoch_ms=int(records[0].arrival_epoch_ms),
                newest_arrival_epoch_ms=int(records[-1].arrival_epoch_ms),
                e2e_p50_ms=round(percentile(e2e, 0.5), 3),
                e2e_p99_ms=round(percentile(e2e, 0.99), 3),
                e2e_max_ms=round(e2e[-1], 3),
                outcome=outcome,
                failed_items=failed,
                init_duration_ms=None if result.log is None else _rounded(result.log.init_duration_ms),
                due_epoch_ms=due_epoch_ms,
                sent_epoch_ms=int(sent_ms),
            )
        )
        telemetry.invocation(result)
        telemetry.metric("IteratorAge", iterator_age_ms, self.shard_id)
        telemetry.metric("Invocations", 1, self.shard_id)
        telemetry.metric("Duration", duration_ms, self.shard_id)
        telemetry.metric("InvokedEventCount", len(records), self.shard_id)
        if outcome in ("error", "timeout"):
            telemetry.metric("Errors", 1, self.shard_id)
        if failed:
            telemetry.metric("FailedInvokeEventCount", failed, self.shard_id)
        return result, outcome, failed_from

    def _outcome(self, result: InvokeResult, records: list[StreamRecord]) -> tuple[str, int]:
        if result.timed_out:
            return "timeout", 0
        if result.error is not None:
            return "error", 0
        if not self.config.report_batch_item_failures:
            return "ok", len(records)
        return partial_failure(result.response, records)


def partial_failure(response: Any, records: list[StreamRecord]) -> tuple[str, int]:
    """Lambda's reading of a batchItemFailures response: an unknown or empty identifier fails the batch."""
    if not isinstance(response, dict) or not response.get("batchItemFailures"):
        return "ok", len(records)
    failures = response["batchItemFailures"]
    positions = {r.sequence_number: i for i, r in enumerate(records)}
    indexes = []
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not identifier or identifier not in positions:
            return "error", 0
        indexes.append(positions[identifier])
    return "partial", min(indexes)


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
