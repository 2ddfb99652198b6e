"""One row per Lambda invocation from the function's CloudWatch Logs: the REPORT line joined with the
handler's EMF line of the same invocation (between its START and END in its log stream).

Read with FilterLogEvents (no per-request or per-GB charge; Logs Insights would bill every GB scanned, see
capacity/quotas.py), in time slices: a slice that comes back full without a nextToken (MiniStack 1.5.33
does not paginate) is split until every event is read. The rows have the invocation-trace columns; what
the logs cannot say (lane, attempt, batch bytes) is left empty, the shard is the EMF line's ShardId property
(empty for a handler that does not write it), and the iterator age is estimated as
the youngest record's end-to-end latency minus the duration (the handler measures latency at its end).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from capacity.emf import parse_emf
from capacity.quotas import FILTER_LOG_EVENTS_MAX_EVENTS, US_EAST_1, Prices

REPORT = re.compile(
    r"^REPORT RequestId: (?P<id>\S+)\tDuration: (?P<duration>[\d.]+) ms\tBilled Duration: (?P<billed>\d+) ms"
    r"\tMemory Size: (?P<memory>\d+) MB\tMax Memory Used: (?P<max_memory>\d+) MB"
    r"(?:\tInit Duration: (?P<init>[\d.]+) ms)?(?P<rest>.*)$",
    re.DOTALL,
)
START = re.compile(r"^START RequestId: (?P<id>\S+)")
SLICE_MS = 60_000
MIN_SLICE_MS = 1
GB = 1e9


@dataclass
class LogReadStats:
    """What reading the logs took: calls, events and bytes (what a Logs Insights query would scan)."""

    calls: int = 0
    events: int = 0
    bytes: int = 0

    def cost(self, prices: Prices = US_EAST_1) -> dict[str, float]:
        return {
            "filter_log_events_usd": 0.0,
            "logs_insights_equivalent_usd": self.bytes / GB * prices.cloudwatch_logs_insights_gb_scanned_usd,
        }


def _filter(logs: Any, group: str, start_ms: int, end_ms: int, stats: LogReadStats) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    arguments: dict[str, Any] = {"logGroupName": group, "startTime": start_ms, "endTime": end_ms}
    while True:
        page = logs.filter_log_events(**arguments)
        stats.calls += 1
        events += page.get("events", [])
        token = page.get("nextToken")
        if not token:
            return events
        arguments["nextToken"] = token


def read_log_events(
    logs: Any, group: str, start_ms: int, end_ms: int, stats: LogReadStats | None = None
) -> list[dict[str, Any]]:
    """Every event of the group in [start_ms, end_ms], in time order (stable within a stream)."""
    stats = stats if stats is not None else LogReadStats()
    pending = [(start_ms, min(end_ms, start_ms + SLICE_MS))]
    while pending[-1][1] < end_ms:
        pending.append((pending[-1][1] + 1, min(end_ms, pending[-1][1] + 1 + SLICE_MS)))
    events: list[dict[str, Any]] = []
    while pending:
        low, high = pending.pop(0)
        found = _filter(logs, group, low, high, stats)
        if len(found) >= FILTER_LOG_EVENTS_MAX_EVENTS and high - low > MIN_SLICE_MS:
            middle = (low + high) // 2
            pending[:0] = [(low, middle), (middle + 1, high)]  # a full page may be a truncated one
            continue
        events += found
    stats.events += len(events)
    stats.bytes += sum(len(str(e.get("message", "")).encode()) for e in events)
    return sorted(events, key=lambda e: int(e.get("timestamp", 0)))


@dataclass
class _Open:
    request_id: str
    start_epoch_ms: int
    emf: dict[str, Any] = field(default_factory=dict)
    error: bool = False


def _row(opened: _Open, report: re.Match[str], log_stream: str) -> dict[str, Any]:
    duration_ms = float(report["duration"])
    latencies = opened.emf.get("EndToEndLatencyMs")
    values = sorted(float(v) for v in latencies) if isinstance(latencies, list) and latencies else []
    records = opened.emf.get("RecordsIn")
    deferred = int(opened.emf.get("RecordsDeferred", 0) or 0)
    if "Status: timeout" in report["rest"]:
        outcome = "timeout"
    elif opened.error or not opened.emf:
        outcome = "error"
    else:
        outcome = "partial" if deferred else "ok"
    return {
        "invocation_id": opened.request_id,
        "shard_id": str(opened.emf.get("ShardId", "")),  # the handler's EMF property (pipeline/handler.py)
        "lane": 0,
        "attempt": np.nan,
        "start_epoch_ms": opened.start_epoch_ms,
        "end_epoch_ms": opened.start_epoch_ms + duration_ms,
        "duration_ms": duration_ms,
        "batch_records": float(records) if isinstance(records, int | float) else np.nan,
        "batch_bytes": np.nan,
        "iterator_age_ms": max(0.0, values[0] - duration_ms) if values else np.nan,
        "oldest_arrival_epoch_ms": np.nan,
        "newest_arrival_epoch_ms": np.nan,
        "e2e_p50_ms": float(np.percentile(values, 50)) if values else np.nan,
        "e2e_p99_ms": float(np.percentile(values, 99)) if values else np.nan,
        "e2e_max_ms": values[-1] if values else np.nan,
        "outcome": outcome,
        "failed_items": deferred,
        "billed_duration_ms": float(report["billed"]),
        "memory_size_mb": int(report["memory"]),
        "max_memory_used_mb": int(report["max_memory"]),
        "init_duration_ms": float(report["init"]) if report["init"] else np.nan,
        "log_stream": log_stream,
    }


def invocation_rows(events: list[dict[str, Any]]) -> pd.DataFrame:
    """Join each REPORT with the EMF line printed between its START and END, per log stream."""
    opened: dict[str, _Open] = {}  # log stream -> the invocation running in it
    rows: list[dict[str, Any]] = []
    for event in events:
        stream, message = str(event.get("logStreamName", "")), str(event.get("message", ""))
        if start := START.match(message):
            opened[stream] = _Open(start["id"], int(event.get("timestamp", 0)))
            continue
        current = opened.get(stream)
        if report := REPORT.match(message):
            if current is not None and current.request_id == report["id"]:
                rows.append(_row(current, report, stream))
                del opened[stream]
            continue
        if current is None:
            continue
        if message.startswith("[ERROR]"):
            current.error = True
        elif (document := parse_emf(message)) is not None:
            current.emf = document
    return pd.DataFrame(rows)
