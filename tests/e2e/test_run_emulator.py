"""The staging path rehearsed on the local stack: `cdrcap up && cdrcap deploy --target emulator --params
p.json && cdrcap run --target emulator --profile ci` runs the staging code (change-set deploy, stack
outputs, mapping settings from the Lambda API, CloudWatch measurement), and one run read both ways (the
local trace and CloudWatch) gives the same service-time fit and step p99s within 5 %."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pandas as pd
import pytest

from capacity.fit import fit_service_time
from capacity.measure import LocalTraceReader
from infra.local.emulator import free_port, port_is_free
from infra.local.stack import LocalStack
from reports import measured
from reports.summary import validate_summary
from tests.support.scratch_project import cli_in, latest_run, load_summary, scratch_project

DEPLOYED_BATCH_SIZE = 400  # differs from `cdrcap up`'s 500: the run must read it back from the mapping
TOLERANCE = 0.05


@dataclass(frozen=True)
class Rehearsal:
    work: Path
    run_dir: Path
    summary: dict[str, Any]
    stack: LocalStack


def _port_pair() -> int:
    for _ in range(50):
        port = free_port()
        if port_is_free(port + 1):
            return port
    raise AssertionError("no two adjacent free ports")


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rehearsal]:
    work = scratch_project(tmp_path_factory, "staging")
    (work / "p.json").write_text(json.dumps({"BatchSize": DEPLOYED_BATCH_SIZE}))
    up = ["up", "--port", str(_port_pair()), "--shards", "1", "--scale", "0.1"]
    assert cli_in(work, [*up, "--batch-size", "500", "--batching-window-s", "1"]) == 0
    stack = LocalStack(work / ".cdrcap" / "local")
    try:
        assert cli_in(work, ["deploy", "--target", "emulator", "--params", "p.json", "--yes"]) == 0
        assert cli_in(work, ["run", "--target", "emulator", "--profile", "ci", "--no-progress"]) == 0
        run_dir = latest_run(work)
        yield Rehearsal(work, run_dir, load_summary(run_dir), stack)
    finally:
        stack.down()


def test_the_run_took_the_staging_path(rehearsal: Rehearsal) -> None:
    summary = rehearsal.summary
    assert validate_summary(summary) == []
    assert summary["measured_via"] == "cloudwatch"
    assert summary["target"]["name"] == "emulator" and summary["target"]["is_local"] is False
    stack = summary["profile"]["stack"]
    # The mapping's settings came from the Lambda API after the change set
    assert stack["batch_size"] == DEPLOYED_BATCH_SIZE and stack["scale"] == 0.1
    # Reading the run back cost nothing through FilterLogEvents; Insights would have billed the bytes
    read = stack["cloudwatch_read"]
    assert read["log_events"] > 0 and read["filter_log_events_usd"] == 0.0
    assert read["logs_insights_equivalent_usd"] > 0


def test_the_run_has_a_fitted_model_and_a_plan(rehearsal: Rehearsal) -> None:
    summary = rehearsal.summary
    model = summary["service_time_model"]
    # One row per invocation from the logs, not a handful of 1-minute averages
    assert model["b_ms_per_record"] > 0 and model["n_invocations"] >= 10
    recommendation = summary["recommendation"]
    assert recommendation["shards"] >= 1 and recommendation["monthly_cost_usd"] > 0
    assert len(summary["model_error"]["per_step"]) == 2
    # The plan priced what the function measurably asked of DynamoDB, read from CloudWatch's EMF sums
    use = summary["plan_details"]["resource_use_per_cdr"]
    assert "handler EMF in CloudWatch" in use["source"]
    assert use["dynamodb_write_units"] > 1.0


def test_one_run_read_both_ways_agrees(rehearsal: Rehearsal) -> None:
    # Given the CloudWatch rows the run was measured with and the local runtime's trace of the same run
    from_logs = pd.read_csv(rehearsal.run_dir / "data" / "invocations.csv")
    start_s = float(from_logs["start_epoch_ms"].min()) / 1000 - 1
    end_s = float(from_logs["start_epoch_ms"].max()) / 1000 + 1
    trace = LocalTraceReader(rehearsal.stack.state_dir / "invocations.csv").invocations(start_s, end_s)
    assert len(from_logs) == len(trace)
    # Each logged invocation names the same shards as the trace (the EMF line's ShardId property)
    assert sorted(from_logs["shard_id"].dropna()) == sorted(trace["shard_id"])
    # Then the service-time fits agree (the logs carry no batch bytes: compare records-only fits)
    memory_mb = int(rehearsal.summary["profile"]["stack"]["memory_mb"])
    a = fit_service_time(trace, memory_mb=memory_mb, use_bytes=False)
    b = fit_service_time(from_logs, memory_mb=memory_mb)
    assert b.a_ms == pytest.approx(a.a_ms, rel=TOLERANCE, abs=1.0)
    assert b.b_ms_per_record == pytest.approx(a.b_ms_per_record, rel=TOLERANCE)
    # And so do the step p99s
    load_seconds = pd.read_csv(rehearsal.run_dir / "data" / "load_seconds.csv")
    for step_trace, step_logs in zip(
        measured.steps(load_seconds, trace), measured.steps(load_seconds, from_logs), strict=True
    ):
        for key in ("e2e_p99_ms", "iterator_age_p99_ms"):
            assert step_logs[key] == pytest.approx(step_trace[key], rel=TOLERANCE, abs=5.0), key


def _logs_and_metrics(rehearsal: Rehearsal) -> tuple[Any, Any, dict[str, Any]]:
    state = json.loads((rehearsal.stack.state_dir / "state.json").read_text())
    session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
    return (
        session.client("logs", endpoint_url=state["endpoint_url"]),
        session.client("cloudwatch", endpoint_url=state["endpoint_url"]),
        state,
    )


def test_the_functions_log_group_holds_lambdas_lines(rehearsal: Rehearsal) -> None:
    logs, _, state = _logs_and_metrics(rehearsal)
    group = f"/aws/lambda/{state['function_name']}"
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert streams and all(
        re.match(r"^\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}$", s["logStreamName"]) for s in streams
    )
    for stream in streams:
        lines = [
            e["message"]
            for e in logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"])["events"]
        ]
        reports = [line for line in lines if line.startswith("REPORT ")]
        assert reports and len(reports) == sum(line.startswith("START ") for line in lines)
        # Init Duration on the environment's first invocation only
        assert "\tInit Duration: " in reports[0]
        assert not any("Init Duration" in line for line in reports[1:])
        assert any(line.startswith('{"_aws"') for line in lines)


def test_published_metrics_agree_with_the_trace_and_the_load(rehearsal: Rehearsal) -> None:
    _, cloudwatch, state = _logs_and_metrics(rehearsal)
    trace = pd.read_csv(rehearsal.stack.state_dir / "invocations.csv")
    load_seconds = pd.read_csv(rehearsal.run_dir / "data" / "load_seconds.csv")
    start = datetime.fromtimestamp(float(trace["start_epoch_ms"].min()) / 1000 - 120, UTC)
    end = datetime.now(UTC)

    def total(namespace: str, metric: str, name: str, value: str) -> float:
        result = cloudwatch.get_metric_data(
            MetricDataQueries=[
                {
                    "Id": "m",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": namespace,
                            "MetricName": metric,
                            "Dimensions": [{"Name": name, "Value": value}],
                        },
                        "Period": 3600,
                        "Stat": "Sum",
                    },
                }
            ],
            StartTime=start,
            EndTime=end,
        )["MetricDataResults"][0]
        return float(sum(result["Values"]))

    function = ("FunctionName", state["function_name"])
    assert total("AWS/Lambda", "Invocations", *function) == len(trace)
    stream = ("StreamName", state["input_stream_name"])
    assert total("AWS/Kinesis", "IncomingRecords", *stream) == load_seconds["accepted"].sum()
    assert (
        total("AWS/Kinesis", "WriteProvisionedThroughputExceeded", *stream) > 0
    )  # ci's second step throttles
