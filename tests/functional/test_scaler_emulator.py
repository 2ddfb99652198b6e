"""The scaler's API calls (scaler/handler.py) against the embedded emulator: it reads the stream and the
mapping, decides, and calls UpdateShardCount / UpdateEventSourceMapping. MiniStack keeps only post-reshard
data on UpdateShardCount, so data checks stay in the simulator (tests/unit/test_scaling.py)."""

from __future__ import annotations

import io
import json
import zipfile

from capacity.scaling import LIMITS
from scaler.handler import CALLS_TAG, Config, run_once
from scaler.policy import ScalerPolicy

HANDLER = "def handler(event, context):\n    return {'batchItemFailures': []}\n"


def _stack(aws_session, endpoint: str) -> tuple:
    kinesis = aws_session.client("kinesis", endpoint_url=endpoint)
    lambda_ = aws_session.client("lambda", endpoint_url=endpoint)
    cloudwatch = aws_session.client("cloudwatch", endpoint_url=endpoint)
    kinesis.create_stream(StreamName="cdr-in", ShardCount=2)
    kinesis.get_waiter("stream_exists").wait(StreamName="cdr-in", WaiterConfig={"Delay": 0.2})
    arn = kinesis.describe_stream_summary(StreamName="cdr-in")["StreamDescriptionSummary"]["StreamARN"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("index.py", HANDLER)
    lambda_.create_function(
        FunctionName="processor",
        Runtime="python3.12",
        Role="arn:aws:iam::000000000000:role/processor",
        Handler="index.handler",
        Code={"ZipFile": code.getvalue()},
    )
    # Disabled: MiniStack would otherwise run the function itself (docs: ARCHITECTURE, its poller).
    mapping = lambda_.create_event_source_mapping(
        FunctionName="processor", EventSourceArn=arn, StartingPosition="LATEST", Enabled=False
    )
    return kinesis, lambda_, cloudwatch, mapping["UUID"]


def _metric(cloudwatch, namespace: str, name: str, dimension: tuple, at_s: float, value: float) -> None:
    cloudwatch.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": name,
                "Dimensions": [{"Name": dimension[0], "Value": dimension[1]}],
                "Timestamp": at_s,
                "Value": value,
            }
        ],
    )


def test_scaler_reshards_and_raises_pf_on_the_emulator(clean_emulator, aws_session) -> None:
    # Given a 2-shard stream, its mapping at PF 1, and a minute of metrics: busy writes, consumer behind
    kinesis, lambda_, cloudwatch, uuid = _stack(aws_session, clean_emulator.endpoint_url)
    config = Config("cdr-in", uuid, "processor", LIMITS, ScalerPolicy())
    now = 1_900_000_000.0
    _metric(cloudwatch, "AWS/Kinesis", "IncomingRecords", ("StreamName", "cdr-in"), now - 90, 1_900.0 * 60)
    _metric(cloudwatch, "AWS/Lambda", "IteratorAge", ("FunctionName", "processor"), now - 90, 45_000.0)
    # When the scaler runs once
    result = run_once(kinesis, lambda_, cloudwatch, config, now)
    # Then it asked for 4 shards and PF 2, and both calls took effect
    assert result["decision"]["shards"] == 4, json.dumps(result, default=str)
    assert result["decision"]["parallelization_factor"] == 2
    assert lambda_.get_event_source_mapping(UUID=uuid)["ParallelizationFactor"] == 2
    kinesis.get_waiter("stream_exists").wait(StreamName="cdr-in", WaiterConfig={"Delay": 0.2})
    summary = kinesis.describe_stream_summary(StreamName="cdr-in")["StreamDescriptionSummary"]
    assert summary["OpenShardCount"] == 4
    # And the call is remembered in the stream's tags (ten per rolling 24 h)
    tags = {t["Key"]: t["Value"] for t in kinesis.list_tags_for_stream(StreamName="cdr-in")["Tags"]}
    assert tags[CALLS_TAG] == f"{now:.0f}"


def test_a_quiet_minute_makes_no_call(clean_emulator, aws_session) -> None:
    kinesis, lambda_, cloudwatch, uuid = _stack(aws_session, clean_emulator.endpoint_url)
    config = Config("cdr-in", uuid, "processor", LIMITS, ScalerPolicy(min_shards=2))
    result = run_once(kinesis, lambda_, cloudwatch, config, 1_900_000_000.0)
    assert result["decision"]["shards"] is None
    assert result["decision"]["parallelization_factor"] is None
    summary = kinesis.describe_stream_summary(StreamName="cdr-in")["StreamDescriptionSummary"]
    assert summary["OpenShardCount"] == 2
