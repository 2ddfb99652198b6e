"""Measurements of a run window through one interface, served by the local runtime's files or CloudWatch.

Both readers return pandas DataFrames with the same columns: `metrics()` in the long format of the local
metrics CSV (epoch_s, metric, value, shard_id) and `invocations()` in the invocation-trace columns
(one row per invocation from the local trace, or on AWS from the function's REPORT + EMF log lines; one
row per period with averages and an `invocations` weight when only the 1-minute metrics are there).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from capacity.errors import CapacityError
from capacity.log_invocations import LogReadStats, invocation_rows, read_log_events
from pipeline.metering import METRICS as METER_METRICS

TRACE_COLUMNS = (
    "invocation_id", "shard_id", "lane", "attempt", "start_epoch_ms", "end_epoch_ms", "duration_ms",
    "batch_records", "batch_bytes", "iterator_age_ms", "oldest_arrival_epoch_ms", "newest_arrival_epoch_ms",
    "e2e_p50_ms", "e2e_p99_ms", "e2e_max_ms", "outcome", "failed_items", "init_duration_ms",
    "due_epoch_ms", "sent_epoch_ms",
)  # fmt: skip
METRICS_COLUMNS = ("epoch_s", "metric", "value", "shard_id")
# One row per GetRecords call of the local runtime's pollers (infra.local.esm.telemetry.PollRow); AWS
# publishes GetRecords.Latency only as a per-minute statistic of the stream, so on AWS there are none.
POLL_COLUMNS = ("shard_id", "start_epoch_ms", "call_ms", "records")
# FilterLogEvents errors that mean "no logs to read here" rather than a bug: fall back to the metrics.
LOGS_UNAVAILABLE = frozenset({"ResourceNotFoundException", "AccessDeniedException"})


class MetricsReader(Protocol):
    """What the capacity model reads for a run window [start_epoch_s, end_epoch_s)."""

    def invocations(self, start_epoch_s: float, end_epoch_s: float) -> pd.DataFrame: ...

    def metrics(self, start_epoch_s: float, end_epoch_s: float) -> pd.DataFrame: ...

    def polls(self, start_epoch_s: float, end_epoch_s: float) -> pd.DataFrame: ...


def _read_csv(path: Path, what: str) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except FileNotFoundError as error:
        raise CapacityError(
            f"{what} {path} does not exist; was the run started with the local stack?"
        ) from error
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


@dataclass(frozen=True)
class LocalTraceReader:
    """The local runtime's invocation trace, its per-second metrics CSV and the load generator's seconds."""

    trace_path: Path
    metrics_path: Path | None = None
    load_seconds_path: Path | None = None
    polls_path: Path | None = None

    def invocations(self, start_epoch_s: float, end_epoch_s: float) -> pd.DataFrame:
        trace = _read_csv(self.trace_path, "invocation trace")
        if trace.empty:
            return pd.DataFrame(columns=list(TRACE_COLUMNS))
        missing = {"start_epoch_ms", "duration_ms", "batch_records"} - set(trace.columns)
        if missing:
            raise CapacityError(f"invocation trace {self.trace_path} lacks columns {sorted(missing)}")
        start_ms = trace["start_epoch_ms"]
        return trace[(start_ms >= start_epoch_s * 1000.0) & (start_ms < end_epoch_s * 1000.0)].reset_index(
            drop=True
        )

    def metrics(self, start_epoch_s: float, end_epoch_s: float) -> pd.DataFrame:
        if self.metrics_path is None:
            return pd.DataFrame(columns=list(METRICS_COLUMNS))
        metrics = _read_csv(self.metrics_path, "metrics CSV")
        if metrics.empty:
            return pd.DataFrame(columns=list(METRICS_COLUMNS))
        epoch = metrics["epoch_s"]
        return metrics[(epoch >= start_epoch_s) & (epoch < end_epoch_s)].reset_index(drop=True)

    def polls(self, start_epoch_s: float, end_epoch_s: float) -> pd.DataFrame:
        """The pollers' GetRecords calls started in the window (none when the runtime kept no file)."""
        if self.polls_path is None or not self.polls_path.exists():
            return pd.DataFrame(columns=list(POLL_COLUMNS))
        polls = _read_csv(self.polls_path, "GetRecords calls")
        if polls.empty:
            return pd.DataFrame(columns=list(POLL_COLUMNS))
        start_ms = polls["start_epoch_ms"]
        inside = (start_ms >= start_epoch_s * 1000.0) & (start_ms < end_epoch_s * 1000.0)
        return polls[inside].reset_index(drop=True)

    def load_seconds(self, start_epoch_s: float, end_epoch_s: float) -> pd.DataFrame:
        if self.load_seconds_path is None:
            return pd.DataFrame()
        seconds = _read_csv(self.load_seconds_path, "load seconds")
        if seconds.empty:
            return seconds
        epoch = seconds["epoch_s"]
        return seconds[(epoch >= start_epoch_s) & (epoch < end_epoch_s)].reset_index(drop=True)


@dataclass(frozen=True)
class MetricQuery:
    """One CloudWatch series: namespace, metric, statistic, dimensions, and the label it gets."""

    namespace: str
    metric: str
    stat: str
    dimensions: tuple[tuple[str, str], ...]
    label: str


@dataclass(frozen=True)
class CloudWatchReader:
    """GetMetricData for the input stream, the function and the handler's EMF namespace; invocations from
    the function's log group when a CloudWatch Logs client is given (per-minute metrics otherwise)."""

    client: Any  # a boto3 CloudWatch client (infra.aws builds it)
    stream_name: str
    function_name: str
    namespace: str = "cdrcap"
    emf_dimensions: tuple[tuple[str, str], ...] = ()
    period_s: int = 60
    logs: Any | None = None  # a boto3 CloudWatch Logs client
    # An invocation started in the window logs its REPORT up to a function timeout later.
    log_tail_s: float = 60.0
    queries: tuple[MetricQuery, ...] = field(init=False)
    log_stats: LogReadStats = field(default_factory=LogReadStats, compare=False)
    metric_requests: list[int] = field(default_factory=lambda: [0], compare=False)  # metrics requested

    @property
    def log_group(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    def read_cost(self) -> dict[str, Any]:
        """What reading this run back from CloudWatch cost (FilterLogEvents is free; Insights is not)."""
        from capacity.quotas import US_EAST_1

        metrics = self.metric_requests[0]
        return {
            "log_events": self.log_stats.events,
            "log_bytes": self.log_stats.bytes,
            "filter_log_events_calls": self.log_stats.calls,
            "get_metric_data_metrics": metrics,
            "get_metric_data_usd": metrics
            / 1000
            * US_EAST_1.cloudwatch_get_metric_data_per_thousand_metrics_usd,
            **self.log_stats.cost(),
        }

    def __post_init__(self) -> None:
        stream = (("StreamName", self.stream_name),)
        function = (("FunctionName", self.function_name),)
        specs = [
            ("AWS/Kinesis", "IncomingRecords", "Sum", stream),
            ("AWS/Kinesis", "IncomingBytes", "Sum", stream),
            ("AWS/Kinesis", "WriteProvisionedThroughputExceeded", "Sum", stream),
            ("AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds", "Maximum", stream),
            ("AWS/Lambda", "IteratorAge", "Maximum", function),
            ("AWS/Lambda", "IteratorAge", "p99", function),
            ("AWS/Lambda", "Duration", "Average", function),
            ("AWS/Lambda", "Duration", "p99", function),
            ("AWS/Lambda", "Invocations", "Sum", function),
            ("AWS/Lambda", "ConcurrentExecutions", "Maximum", function),
            ("AWS/Lambda", "Errors", "Sum", function),
            (self.namespace, "RecordsIn", "Sum", self.emf_dimensions),
            (self.namespace, "RecordsOk", "Sum", self.emf_dimensions),
            (self.namespace, "RecordsRejected", "Sum", self.emf_dimensions),
            (self.namespace, "ProcessingMs", "Average", self.emf_dimensions),
            (self.namespace, "EndToEndLatencyMs", "p50", self.emf_dimensions),
            (self.namespace, "EndToEndLatencyMs", "p99", self.emf_dimensions),
            (self.namespace, "DynamoWrites", "Sum", self.emf_dimensions),
            # What the function asked of every service (its request meter): the run's resource use per CDR
            *[
                (self.namespace, name, "Sum", self.emf_dimensions)
                for name in ("DynamoWriteUnits", "DynamoHottestItemWrites", *METER_METRICS)
            ],
            # Every polling consumer's GetRecords call time, a per-minute mean (AWS has no per-call times)
            ("AWS/Kinesis", "GetRecords.Latency", "Average", stream),
        ]
        queries = tuple(
            MetricQuery(ns, metric, stat, dims, metric if stat in ("Sum", "Maximum") else f"{metric}.{stat}")
            for ns, metric, stat, dims in specs
        )
        object.__setattr__(self, "queries", queries)

    def metrics(self, start_epoch_s: float, end_epoch_s: float) -> pd.DataFrame:
        requests = [
            {
                "Id": f"q{index}",
                "Label": query.label,
                "MetricStat": {
                    "Metric": {
                        "Namespace": query.namespace,
                        "MetricName": query.metric,
                        "Dimensions": [{"Name": name, "Value": value} for name, value in query.dimensions],
                    },
                    "Period": self.period_s,
                    "Stat": query.stat,
                },
            }
            for index, query in enumerate(self.queries)
        ]
        labels = {f"q{index}": query.label for index, query in enumerate(self.queries)}
        rows: list[dict[str, Any]] = []
        arguments: dict[str, Any] = {
            "MetricDataQueries": requests,
            "StartTime": datetime.fromtimestamp(start_epoch_s, UTC),
            "EndTime": datetime.fromtimestamp(end_epoch_s, UTC),
            "ScanBy": "TimestampAscending",
        }
        while True:
            response = self.client.get_metric_data(**arguments)
            self.metric_requests[0] += len(requests)
            for result in response.get("MetricDataResults", []):
                label = labels.get(result["Id"], result.get("Label", result["Id"]))
                for timestamp, value in zip(
                    result.get("Timestamps", []), result.get("Values", []), strict=False
                ):
                    rows.append(
                        {
                            "epoch_s": timestamp.timestamp(),
                            "metric": label,
                            "value": float(value),
                            "shard_id": None,
                        }
                    )
            token = response.get("NextToken")
            if not token:
                break
            arguments["NextToken"] = token
        return pd.DataFrame(rows, columns=list(METRICS_COLUMNS))

    def polls(self, start_epoch_s: float, end_epoch_s: float) -> pd.DataFrame:
        """None: Lambda's poller is not observable per call on AWS. AWS/Kinesis GetRecords.Latency is a
        per-minute statistic of every consumer's calls to the stream (docs/capacity.md Validation)."""
        return pd.DataFrame(columns=list(POLL_COLUMNS))

    def invocations(self, start_epoch_s: float, end_epoch_s: float) -> pd.DataFrame:
        """One row per invocation from the logs; else one row per period in trace columns (averages),
        weighted by `invocations`, for the fit."""
        if self.logs is not None:
            rows = self.log_invocations(start_epoch_s, end_epoch_s)
            if not rows.empty:
                return rows
        return self.period_invocations(start_epoch_s, end_epoch_s)

    def log_invocations(self, start_epoch_s: float, end_epoch_s: float) -> pd.DataFrame:
        """The invocations that started in the window, from their REPORT and EMF lines."""
        start_ms = int(start_epoch_s * 1000)
        end_ms = int((end_epoch_s + self.log_tail_s) * 1000)
        try:
            events = read_log_events(self.logs, self.log_group, start_ms, end_ms, self.log_stats)
        except Exception as error:  # no log group (yet) or no permission: the metrics are the fallback
            code = getattr(error, "response", {}).get("Error", {}).get("Code", "")
            if code in LOGS_UNAVAILABLE:
                return pd.DataFrame(columns=list(TRACE_COLUMNS))
            raise
        rows = invocation_rows(events)
        if rows.empty:
            return pd.DataFrame(columns=list(TRACE_COLUMNS))
        started = rows["start_epoch_ms"]
        inside = rows[(started >= start_epoch_s * 1000.0) & (started < end_epoch_s * 1000.0)]
        return inside.sort_values("start_epoch_ms").reset_index(drop=True)

    def period_invocations(self, start_epoch_s: float, end_epoch_s: float) -> pd.DataFrame:
        """One row per period in trace columns (averages), weighted by `invocations`, for the fit."""
        wide = self.metrics(start_epoch_s, end_epoch_s).pivot_table(
            index="epoch_s", columns="metric", values="value", aggfunc="sum"
        )
        if (
            wide.empty
            or "Invocations" not in wide
            or "RecordsIn" not in wide
            or "Duration.Average" not in wide
        ):
            return pd.DataFrame(columns=[*TRACE_COLUMNS, "invocations"])
        invocations = wide["Invocations"].replace(0, np.nan)
        table = pd.DataFrame(
            {
                "start_epoch_ms": wide.index.to_numpy() * 1000.0,
                "duration_ms": wide["Duration.Average"].to_numpy(),
                "batch_records": (wide["RecordsIn"] / invocations).to_numpy(),
                "iterator_age_ms": wide.get("IteratorAge", pd.Series(np.nan, index=wide.index)).to_numpy(),
                "e2e_p99_ms": wide.get(
                    "EndToEndLatencyMs.p99", pd.Series(np.nan, index=wide.index)
                ).to_numpy(),
                "invocations": wide["Invocations"].to_numpy(),
            }
        )
        return table.dropna(subset=["duration_ms", "batch_records"]).reset_index(drop=True)


def save_tables(
    reader: MetricsReader, run_dir: Path, start_epoch_s: float, end_epoch_s: float
) -> dict[str, Path]:
    """Write the window's invocations and metrics as CSV tables under `<run_dir>/data/`."""
    data_dir = run_dir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "invocations": data_dir / "invocations.csv",
        "metrics": data_dir / "metrics.csv",
        "polls": data_dir / "polls.csv",
    }
    reader.invocations(start_epoch_s, end_epoch_s).to_csv(paths["invocations"], index=False)
    reader.metrics(start_epoch_s, end_epoch_s).to_csv(paths["metrics"], index=False)
    reader.polls(start_epoch_s, end_epoch_s).to_csv(paths["polls"], index=False)
    return paths
