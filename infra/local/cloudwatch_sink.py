"""Publish to the emulator's CloudWatch and CloudWatch Logs what AWS publishes, off the data path.

`CloudWatchSink.metric(...)` and `.log(...)` only append to in-memory buffers under a lock; a background
thread flushes them every `flush_interval_s` with PutMetricData (Values/Counts, so percentile statistics
work; StatisticValues would lose them) and PutLogEvents, batched within the APIs' limits. A failed flush
keeps the data for the next one, up to a bound, so an emulator restart loses nothing short and never
blocks or breaks the runtime.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from capacity.quotas import (
    PUT_LOG_EVENTS_EVENT_OVERHEAD_BYTES,
    PUT_LOG_EVENTS_MAX_BYTES,
    PUT_LOG_EVENTS_MAX_EVENTS,
    PUT_LOG_EVENTS_MAX_SPAN_S,
    PUT_METRIC_DATA_MAX_BYTES,
    PUT_METRIC_DATA_MAX_METRICS,
    PUT_METRIC_DATA_MAX_VALUES,
)

LOG = logging.getLogger(__name__)
DEFAULT_FLUSH_INTERVAL_S = 2.0
MAX_PENDING_METRIC_KEYS = 200_000  # beyond this (CloudWatch unreachable for long) new values are dropped
MAX_PENDING_LOG_EVENTS = 500_000
# A conservative size of one datum on the wire (names, dimensions, timestamp) plus each value and count.
_DATUM_BASE_BYTES = 400
_BYTES_PER_VALUE = 40

Dimensions = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class MetricKey:
    namespace: str
    name: str
    dimensions: Dimensions
    unit: str
    epoch_s: int  # values fold per second, as a high-resolution publisher would


def datums(key: MetricKey, counts: Counter[float]) -> Iterator[dict[str, Any]]:
    """PutMetricData datums for one key: Values/Counts, at most PUT_METRIC_DATA_MAX_VALUES values each."""
    items = sorted(counts.items())
    for start in range(0, len(items), PUT_METRIC_DATA_MAX_VALUES):
        chunk = items[start : start + PUT_METRIC_DATA_MAX_VALUES]
        yield {
            "MetricName": key.name,
            "Dimensions": [{"Name": name, "Value": value} for name, value in key.dimensions],
            "Timestamp": datetime.fromtimestamp(key.epoch_s, UTC),
            "Values": [value for value, _ in chunk],
            "Counts": [float(count) for _, count in chunk],
            "Unit": key.unit,
        }


def metric_requests(pending: dict[MetricKey, Counter[float]]) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """(namespace, datums) requests within PutMetricData's metric-count and payload limits."""
    by_namespace: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for key, counts in pending.items():
        by_namespace[key.namespace].extend(datums(key, counts))
    for namespace, all_datums in by_namespace.items():
        batch: list[dict[str, Any]] = []
        size = 0
        for datum in all_datums:
            datum_bytes = _DATUM_BASE_BYTES + _BYTES_PER_VALUE * len(datum["Values"])
            if batch and (
                len(batch) >= PUT_METRIC_DATA_MAX_METRICS or size + datum_bytes > PUT_METRIC_DATA_MAX_BYTES
            ):
                yield namespace, batch
                batch, size = [], 0
            batch.append(datum)
            size += datum_bytes
        if batch:
            yield namespace, batch


def log_batches(events: Sequence[tuple[int, str]]) -> Iterator[list[dict[str, Any]]]:
    """PutLogEvents batches of one stream's events, in time order, within the count/bytes/span limits."""
    ordered = sorted(events, key=lambda event: event[0])  # stable: lines of one millisecond keep their order
    batch: list[dict[str, Any]] = []
    size = 0
    for timestamp_ms, message in ordered:
        event_bytes = len(message.encode("utf-8")) + PUT_LOG_EVENTS_EVENT_OVERHEAD_BYTES
        too_long = batch and timestamp_ms - batch[0]["timestamp"] >= PUT_LOG_EVENTS_MAX_SPAN_S * 1000
        if batch and (
            len(batch) >= PUT_LOG_EVENTS_MAX_EVENTS
            or size + event_bytes > PUT_LOG_EVENTS_MAX_BYTES
            or too_long
        ):
            yield batch
            batch, size = [], 0
        batch.append({"timestamp": timestamp_ms, "message": message})
        size += event_bytes
    if batch:
        yield batch


def _error_code(error: Exception) -> str:
    response = getattr(error, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


class CloudWatchSink:
    """Thread-safe buffers of metric values and log events, flushed by one background thread."""

    def __init__(
        self, cloudwatch: Any, logs: Any | None = None, flush_interval_s: float = DEFAULT_FLUSH_INTERVAL_S
    ) -> None:
        self.cloudwatch = cloudwatch
        self.logs = logs
        self.flush_interval_s = flush_interval_s
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._metrics: dict[MetricKey, Counter[float]] = {}
        self._events: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)
        self._event_count = 0
        self._streams: set[tuple[str, str]] = set()
        self._groups: set[str] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.dropped = 0  # metric values and log events given up on (CloudWatch unreachable for long)
        self.published_values = 0
        self.published_events = 0

    # -- the data path: append only ---------------------------------------------------------------------

    def metric(
        self,
        namespace: str,
        name: str,
        value: float,
        dimensions: Dimensions = (),
        unit: str = "None",
        epoch_s: float | None = None,
    ) -> None:
        key = MetricKey(namespace, name, dimensions, unit, int(time.time() if epoch_s is None else epoch_s))
        with self._lock:
            counts = self._metrics.get(key)
            if counts is None:
                if len(self._metrics) >= MAX_PENDING_METRIC_KEYS:
                    self.dropped += 1
                    return
                counts = self._metrics[key] = Counter()
            counts[round(float(value), 3)] += 1

    def log(self, group: str, stream: str, timestamp_ms: int, message: str) -> None:
        with self._lock:
            if self._event_count >= MAX_PENDING_LOG_EVENTS:
                self.dropped += 1
                return
            self._events[(group, stream)].append((int(timestamp_ms), message))
            self._event_count += 1

    # -- the flush thread -------------------------------------------------------------------------------

    def start(self) -> CloudWatchSink:
        self._thread = threading.Thread(target=self._run, name="cloudwatch-sink", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout_s)
        self.flush()

    def _run(self) -> None:
        while not self._stop.wait(self.flush_interval_s):
            self.flush()

    def flush(self) -> None:
        """Publish everything buffered; what fails goes back into the buffers for the next flush."""
        with self._flush_lock:
            with self._lock:
                metrics, self._metrics = self._metrics, {}
                events, self._events = self._events, defaultdict(list)
                self._event_count = 0
            self._flush_metrics(metrics)
            if self.logs is not None:
                self._flush_logs(events)

    def _flush_metrics(self, metrics: dict[MetricKey, Counter[float]]) -> None:
        if not metrics:
            return
        try:
            for namespace, batch in metric_requests(metrics):
                self.cloudwatch.put_metric_data(Namespace=namespace, MetricData=batch)
        except Exception as error:  # the emulator restarting or gone: keep the values, try again later
            LOG.warning("PutMetricData failed, keeping %d series for the next flush: %s", len(metrics), error)
            with self._lock:
                for key, counts in metrics.items():
                    self._metrics.setdefault(key, Counter()).update(counts)
            return
        self.published_values += sum(sum(counts.values()) for counts in metrics.values())

    def _ensure_stream(self, group: str, stream: str) -> None:
        if (group, stream) in self._streams:
            return
        assert self.logs is not None
        for create, arguments in (
            (self.logs.create_log_group, {"logGroupName": group}),
            (self.logs.create_log_stream, {"logGroupName": group, "logStreamName": stream}),
        ):
            if create == self.logs.create_log_group and group in self._groups:
                continue
            try:
                create(**arguments)
            except Exception as error:
                if _error_code(error) != "ResourceAlreadyExistsException":
                    raise
        self._groups.add(group)
        self._streams.add((group, stream))

    def _flush_logs(self, events: dict[tuple[str, str], list[tuple[int, str]]]) -> None:
        assert self.logs is not None
        for (group, stream), stream_events in events.items():
            sent = 0
            try:
                self._ensure_stream(group, stream)
                for batch in log_batches(stream_events):
                    self.logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=batch)
                    sent += len(batch)
            except Exception as error:  # keep this stream's unsent events for the next flush
                LOG.warning("PutLogEvents to %s/%s failed, will retry: %s", group, stream, error)
                unsent = sorted(stream_events, key=lambda event: event[0])[sent:]
                with self._lock:
                    self._events[(group, stream)][:0] = unsent
                    self._event_count += len(unsent)
            self.published_events += sent
