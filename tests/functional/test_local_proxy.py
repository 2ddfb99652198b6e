"""The limits proxy throttles per shard at the scaled AWS limits and lets the rest through unchanged."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from capacity.quotas import SHARD_GET_RECORDS_CALLS_PER_S, SHARD_WRITE_RECORDS_PER_S
from infra.local.emulator import EmulatorProcess
from tests.support.local_esm_harness import StreamFixture, stream_fixture

SCALE = 0.01  # 10 records/s and 0.05 GetRecords/s per shard: one second of burst is 10 records, 1 call


@pytest.fixture
def stream(emulator: EmulatorProcess, tmp_path: Path) -> Iterator[StreamFixture]:
    with stream_fixture(emulator, tmp_path, shards=2, scale=SCALE) as fixture:
        yield fixture


def through_proxy(stream: StreamFixture) -> Any:
    return boto3.client(
        "kinesis",
        endpoint_url=stream.proxy_url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 1}),
    )


def stored_per_shard(stream: StreamFixture) -> dict[str, int]:
    counts = {}
    for shard in stream.kinesis.list_shards(StreamName=stream.stream_name)["Shards"]:
        iterator = stream.kinesis.get_shard_iterator(
            StreamName=stream.stream_name, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        counts[shard["ShardId"]] = len(stream.kinesis.get_records(ShardIterator=iterator)["Records"])
    return counts


def test_put_records_over_the_scaled_limit_fails_per_record_and_keeps_the_rest(stream: StreamFixture) -> None:
    # Given 2 shards limited to 10 records/s each
    per_shard = SHARD_WRITE_RECORDS_PER_S * SCALE
    # When 100 records spread over both shards arrive in one PutRecords
    response = through_proxy(stream).put_records(
        StreamName=stream.stream_name, Records=[{"PartitionKey": f"k{i}", "Data": b"cdr"} for i in range(100)]
    )
    # Then each shard accepts its one-second budget, the rest fail per record in AWS's shape, in order
    results = response["Records"]
    accepted = [r for r in results if "SequenceNumber" in r]
    throttled = [r for r in results if r.get("ErrorCode") == "ProvisionedThroughputExceededException"]
    assert len(accepted) == 2 * per_shard
    assert response["FailedRecordCount"] == len(throttled) == 100 - 2 * per_shard
    assert throttled[0]["ErrorMessage"].startswith("Rate exceeded for shard shardId-")
    assert stored_per_shard(stream) == {"shardId-000000000000": per_shard, "shardId-000000000001": per_shard}


def test_put_record_over_the_limit_gets_the_400_error(stream: StreamFixture) -> None:
    # Given one shard's write budget used up by one key
    client = through_proxy(stream)
    budget = int(SHARD_WRITE_RECORDS_PER_S * SCALE)
    client.put_records(
        StreamName=stream.stream_name, Records=[{"PartitionKey": "same", "Data": b"x"}] * budget
    )
    # When one more record with that key arrives
    with pytest.raises(ClientError) as raised:
        client.put_record(StreamName=stream.stream_name, PartitionKey="same", Data=b"x")
    # Then it is AWS's throttling error, which SDKs retry
    assert raised.value.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_get_records_over_the_call_rate_is_throttled(stream: StreamFixture) -> None:
    # Given a shard allowed 5 GetRecords calls/s whatever the scale (the scale model shrinks throughput,
    # not the poll cadence), its one-second burst spent at once
    client = through_proxy(stream)
    iterator = client.get_shard_iterator(
        StreamName=stream.stream_name, ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    for _ in range(SHARD_GET_RECORDS_CALLS_PER_S):
        iterator = client.get_records(ShardIterator=iterator)["NextShardIterator"]
    # When one more call follows at once
    with pytest.raises(ClientError) as raised:
        client.get_records(ShardIterator=iterator)
    # Then it is throttled
    assert raised.value.response["Error"]["Code"] == "ProvisionedThroughputExceededException"


def test_other_operations_pass_through_unchanged(stream: StreamFixture) -> None:
    described = through_proxy(stream).describe_stream_summary(StreamName=stream.stream_name)
    assert described["StreamDescriptionSummary"]["OpenShardCount"] == 2
