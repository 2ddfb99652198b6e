from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pandas as pd
import pytest
from botocore.stub import Stubber

from capacity.errors import CapacityError
from capacity.fit import fit_service_time
from capacity.measure import POLL_COLUMNS, TRACE_COLUMNS, CloudWatchReader, LocalTraceReader, save_tables


def _write_trace(path: Path, starts_ms: list[int]) -> None:
    rows = []
    for index, start in enumerate(starts_ms):
        row = dict.fromkeys(TRACE_COLUMNS, 0)
        row.update(
            invocation_id=f"i{index}",
            start_epoch_ms=start,
            duration_ms=20 + index,
            batch_records=10 + index,
            batch_bytes=4_000,
            outcome="ok",
        )
        rows.append(row)
    pd.DataFrame(rows, columns=list(TRACE_COLUMNS)).to_csv(path, index=False)


def test_local_reader_returns_only_invocations_of_the_window(tmp_path: Path) -> None:
    trace = tmp_path / "trace.csv"
    _write_trace(trace, [999_000, 1_000_000, 1_005_000, 1_010_000])
    table = LocalTraceReader(trace).invocations(1_000, 1_010)
    assert list(table["invocation_id"]) == ["i1", "i2"]


def test_local_reader_filters_metrics_by_epoch(tmp_path: Path) -> None:
    metrics = tmp_path / "metrics.csv"
    pd.DataFrame(
        {"epoch_s": [5, 10, 15], "metric": ["IteratorAge"] * 3, "value": [1, 2, 3], "shard_id": ["s0"] * 3}
    ).to_csv(metrics, index=False)
    table = LocalTraceReader(tmp_path / "t.csv", metrics).metrics(10, 20)
    assert list(table["value"]) == [2, 3]


def test_missing_trace_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CapacityError, match="does not exist"):
        LocalTraceReader(tmp_path / "absent.csv").invocations(0, 1)


def test_save_tables_writes_csv_under_data(tmp_path: Path) -> None:
    trace = tmp_path / "trace.csv"
    _write_trace(trace, [1_000_000, 1_001_000])
    paths = save_tables(LocalTraceReader(trace), tmp_path / "run", 0, 2_000)
    assert paths["invocations"] == tmp_path / "run" / "data" / "invocations.csv"
    assert len(pd.read_csv(paths["invocations"])) == 2


def test_local_reader_returns_the_getrecords_calls_of_the_window_and_save_tables_keeps_them(
    tmp_path: Path,
) -> None:
    polls = tmp_path / "polls.csv"
    pd.DataFrame(
        {
            "shard_id": ["s0"] * 3,
            "start_epoch_ms": [999_900, 1_000_100, 1_000_300],
            "call_ms": [4.0, 9.5, 250.0],
        }
    ).assign(records=[0, 3, 1]).to_csv(polls, index=False)
    trace = tmp_path / "trace.csv"
    _write_trace(trace, [1_000_000])
    reader = LocalTraceReader(trace, polls_path=polls)
    assert reader.polls(1_000, 1_001)["call_ms"].tolist() == [9.5, 250.0]
    paths = save_tables(reader, tmp_path / "run", 1_000, 1_001)
    assert pd.read_csv(paths["polls"])["records"].tolist() == [3, 1]


def test_neither_a_reader_without_the_file_nor_cloudwatch_has_getrecords_calls(tmp_path: Path) -> None:
    assert LocalTraceReader(tmp_path / "t.csv").polls(0, 1).empty
    calls = CloudWatchReader(FakeCloudWatch(), stream_name="s", function_name="f").polls(0, 1)
    assert calls.empty
    assert list(calls.columns) == list(POLL_COLUMNS)


class FakeCloudWatch:
    """Answers GetMetricData in two pages, as CloudWatch does for long windows."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def get_metric_data(self, **arguments: Any) -> dict[str, Any]:
        self.calls.append(arguments)
        stamps = [datetime(2026, 1, 1, 0, minute, tzinfo=UTC) for minute in range(6)]
        values = {
            "Invocations": [100.0] * 6,
            "RecordsIn": [1_000.0, 2_000.0, 3_000.0, 4_000.0, 5_000.0, 6_000.0],
            "Duration.Average": [15.0, 20.0, 25.0, 30.0, 35.0, 40.0],
        }
        page = 0 if "NextToken" not in arguments else 1
        results = []
        for query in arguments["MetricDataQueries"]:
            series = values.get(query["Label"], [])
            half = slice(0, 3) if page == 0 else slice(3, 6)
            results.append(
                {
                    "Id": query["Id"],
                    "Label": query["Label"],
                    "Timestamps": stamps[half],
                    "Values": series[half],
                }
            )
        return {"MetricDataResults": results, **({"NextToken": "more"} if page == 0 else {})}


def test_cloudwatch_reader_follows_pages_and_labels_metrics() -> None:
    client = FakeCloudWatch()
    reader = CloudWatchReader(client, stream_name="cdrcap-cdr-in", function_name="cdrcap-cdr-processor")
    table = reader.metrics(1_767_225_600, 1_767_226_000)
    assert len(client.calls) == 2
    assert set(table.columns) == {"epoch_s", "metric", "value", "shard_id"}
    assert (table["metric"] == "Invocations").sum() == 6
    namespaces = {q["MetricStat"]["Metric"]["Namespace"] for q in client.calls[0]["MetricDataQueries"]}
    assert namespaces == {"AWS/Kinesis", "AWS/Lambda", "cdrcap"}


def test_cloudwatch_per_minute_averages_feed_the_service_time_fit() -> None:
    reader = CloudWatchReader(FakeCloudWatch(), stream_name="s", function_name="f")
    minutes = reader.invocations(1_767_225_600, 1_767_226_000)
    assert list(minutes["batch_records"]) == [10.0, 20.0, 30.0, 40.0, 50.0, 60.0]
    model = fit_service_time(minutes, weights_column="invocations")
    assert model.a_ms == pytest.approx(10.0, abs=0.5)
    assert model.b_ms_per_record == pytest.approx(0.5, abs=0.02)


def test_cloudwatch_request_is_valid_for_the_real_api_model() -> None:
    # Given a real CloudWatch client whose requests botocore validates against the service model
    client = boto3.client(
        "cloudwatch", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    stamp = datetime(2026, 1, 1, tzinfo=UTC)
    with Stubber(client) as stub:
        stub.add_response(
            "get_metric_data",
            {
                "MetricDataResults": [
                    {"Id": "q8", "Label": "Invocations", "Timestamps": [stamp], "Values": [7.0]}
                ]
            },
        )
        # When the reader asks for a window
        table = CloudWatchReader(client, stream_name="s", function_name="f").metrics(
            1_767_225_600, 1_767_226_000
        )
        stub.assert_no_pending_responses()
    # Then the request passed validation and the answer is a table row
    assert list(table["metric"]) == ["Invocations"]
