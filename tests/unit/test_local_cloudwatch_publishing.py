"""What the local stack publishes to CloudWatch: batches within the APIs' limits, EMF read as CloudWatch
reads it, and Lambda's START/END/REPORT lines in Lambda's exact format."""

from __future__ import annotations

from collections import Counter

import orjson

from capacity import quotas
from infra.local.cloudwatch_sink import CloudWatchSink, MetricKey, log_batches, metric_requests
from infra.local.emf import emf_metrics, parse_emf
from infra.local.esm.lambda_logs import InvocationLog, invocation_events, report_line
from pipeline.observability import emf_line


def test_metric_requests_keep_to_put_metric_data_limits() -> None:
    # Given 1,001 series, one of them with 200 distinct values
    pending = {
        MetricKey("AWS/Lambda", f"M{i}", (("FunctionName", "f"),), "Count", 1_000): Counter({1.0: 3})
        for i in range(1_000)
    }
    pending[MetricKey("AWS/Lambda", "Duration", (), "Milliseconds", 1_000)] = Counter(
        {float(v): 1 for v in range(200)}
    )
    # When they are batched
    requests = list(metric_requests(pending))
    # Then no request holds more than 1,000 metrics, no datum more than 150 values, and nothing is lost
    assert all(len(batch) <= quotas.PUT_METRIC_DATA_MAX_METRICS for _, batch in requests)
    datums = [datum for _, batch in requests for datum in batch]
    assert max(len(d["Values"]) for d in datums) == quotas.PUT_METRIC_DATA_MAX_VALUES
    assert sum(sum(d["Counts"]) for d in datums) == 1_000 * 3 + 200


def test_log_batches_are_in_time_order_within_count_and_bytes() -> None:
    events = [(1_000 + (i % 7), f"line {i}") for i in range(25_000)]
    batches = list(log_batches(events))
    assert sum(len(batch) for batch in batches) == 25_000
    for batch in batches:
        assert len(batch) <= quotas.PUT_LOG_EVENTS_MAX_EVENTS
        size = sum(len(e["message"]) + quotas.PUT_LOG_EVENTS_EVENT_OVERHEAD_BYTES for e in batch)
        assert size <= quotas.PUT_LOG_EVENTS_MAX_BYTES
        stamps = [e["timestamp"] for e in batch]
        assert stamps == sorted(stamps)


class FailingOnce:
    def __init__(self) -> None:
        self.calls: list[dict[str, object]] = []
        self.fail = True

    def put_metric_data(self, **arguments: object) -> None:
        if self.fail:
            self.fail = False
            raise ConnectionError("emulator restarting")
        self.calls.append(arguments)


def test_a_failed_flush_keeps_the_values_for_the_next() -> None:
    cloudwatch = FailingOnce()
    sink = CloudWatchSink(cloudwatch)
    sink.metric("AWS/Lambda", "Invocations", 1, epoch_s=10)
    sink.flush()  # fails: kept
    sink.flush()
    assert len(cloudwatch.calls) == 1 and sink.published_values == 1


def test_emf_lines_become_the_metrics_cloudwatch_extracts() -> None:
    # Given the handler's own EMF line (no dimensions, counts and a latency values array)
    line = emf_line("cdrcap", {"RecordsIn": 5, "ProcessingMs": 3.5}, [10.0, 20.0, 30.0], 1_700_000_000_000)
    metrics = {m.name: m for m in emf_metrics(parse_emf(line.decode()) or {})}
    assert metrics["RecordsIn"].values == (5.0,) and metrics["RecordsIn"].dimensions == ()
    assert metrics["EndToEndLatencyMs"].values == (10.0, 20.0, 30.0)
    assert metrics["ProcessingMs"].unit == "Milliseconds"
    assert metrics["RecordsIn"].timestamp_ms == 1_700_000_000_000


def test_emf_dimension_sets_and_missing_dimensions() -> None:
    document = {
        "_aws": {
            "Timestamp": 1,
            "CloudWatchMetrics": [
                {"Namespace": "n", "Dimensions": [["Shard"], ["Missing"]], "Metrics": [{"Name": "Count"}]}
            ],
        },
        "Shard": "s-1",
        "Count": 2,
    }
    metrics = emf_metrics(parse_emf(orjson.dumps(document).decode()) or {})
    # One metric per dimension set whose values the document holds; CloudWatch skips the other
    assert [(m.dimensions, m.values) for m in metrics] == [((("Shard", "s-1"),), (2.0,))]
    assert parse_emf('{"level": "INFO"}') is None


def test_report_line_has_lambdas_exact_format() -> None:
    cold = InvocationLog("2026/12/02/[$LATEST]abc", (), 80, 500.123)
    warm = InvocationLog("2026/12/02/[$LATEST]abc", (), 81, None)
    assert report_line("id-1", 12.344, 1024, cold) == (
        "REPORT RequestId: id-1\tDuration: 12.34 ms\tBilled Duration: 513 ms\tMemory Size: 1024 MB\t"
        "Max Memory Used: 80 MB\tInit Duration: 500.12 ms"
    )
    assert report_line("id-2", 12.344, 1024, warm) == (
        "REPORT RequestId: id-2\tDuration: 12.34 ms\tBilled Duration: 13 ms\tMemory Size: 1024 MB\t"
        "Max Memory Used: 81 MB"
    )


def test_invocation_events_bracket_the_handlers_lines() -> None:
    log = InvocationLog("s", ((1_005, '{"_aws": {}}'), (1_006, '{"level": "INFO"}')), 80, None)
    events = invocation_events("id-1", 1_000.0, 1_020.0, 512, log)
    assert [m.split(" ")[0] for _, m in events] == ["START", '{"_aws":', '{"level":', "END", "REPORT"]
    assert events[0] == (1_000, "START RequestId: id-1 Version: $LATEST")
    assert [t for t, _ in events] == sorted(t for t, _ in events)
