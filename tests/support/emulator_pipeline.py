"""The pipeline's AWS resources on the embedded emulator, named as the template names them, and read back."""

from __future__ import annotations

import time
import uuid
from typing import Any

import boto3
import orjson

from pipeline import constants as c
from pipeline.aggregate import COUNTERS

STACK = c.DEFAULT_STACK_NAME
BUCKET = f"{c.resource_name(STACK, c.ARCHIVE_BUCKET_SUFFIX)}-000000000000-us-east-1"
STREAM = "cdrcap-cdr-in"  # the input stream `cdrcap load` writes to


def create_table(dynamodb: Any, table: str | None = None) -> str:
    """A table shaped like the aggregates table (fraud items live there too); a fresh name unless given."""
    table = table or f"fraud-{uuid.uuid4().hex[:8]}"
    dynamodb.create_table(
        TableName=table,
        KeySchema=[
            {"AttributeName": c.TABLE_PARTITION_KEY, "KeyType": "HASH"},
            {"AttributeName": c.TABLE_SORT_KEY, "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": c.TABLE_PARTITION_KEY, "AttributeType": "S"},
            {"AttributeName": c.TABLE_SORT_KEY, "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 0.2})
    return table


def drain_queue(sqs: Any, queue_url: str, *, expected: int, deadline_s: float) -> list[str]:
    """The bodies on the queue once `expected` arrived (plus one more poll) or at the deadline."""
    bodies: list[str] = []
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        response = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        bodies += [message["Body"] for message in response.get("Messages", [])]
        if len(bodies) >= expected:
            # one more short poll: a duplicate would show up here
            response = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            return bodies + [message["Body"] for message in response.get("Messages", [])]
    return bodies


def records_in_stream(kinesis: Any, stream: str = STREAM) -> int:
    """How many records the stream holds, every shard read from TRIM_HORIZON."""
    total = 0
    for shard in kinesis.list_shards(StreamName=stream)["Shards"]:
        iterator = kinesis.get_shard_iterator(
            StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            response = kinesis.get_records(ShardIterator=iterator, Limit=10_000)
            total += len(response["Records"])
            if not response["Records"]:
                break
            iterator = response.get("NextShardIterator")
    return total


class Pipeline:
    """Resources named as the template names them, and the handler configured against them."""

    def __init__(self, session: boto3.Session, endpoint_url: str) -> None:
        def make(service: str) -> Any:
            return session.client(service, endpoint_url=endpoint_url)  # type: ignore[call-overload]

        self.dynamodb, self.s3, self.kinesis, self.sqs = (
            make("dynamodb"),
            make("s3"),
            make("kinesis"),
            make("sqs"),
        )
        self.table = c.resource_name(STACK, c.AGGREGATES_TABLE_SUFFIX)
        self.output_stream = c.resource_name(STACK, c.OUTPUT_STREAM_SUFFIX)
        create_table(self.dynamodb, self.table)
        self.s3.create_bucket(Bucket=BUCKET)
        self.kinesis.create_stream(StreamName=self.output_stream, ShardCount=1)
        self.kinesis.get_waiter("stream_exists").wait(
            StreamName=self.output_stream, WaiterConfig={"Delay": 0.2}
        )
        self.dlq_url = self.sqs.create_queue(QueueName=c.resource_name(STACK, c.DLQ_SUFFIX))["QueueUrl"]
        self.env = {
            c.ENV_OUTPUT_STREAM: self.output_stream,
            c.ENV_AGGREGATES_TABLE: self.table,
            c.ENV_ARCHIVE_BUCKET: BUCKET,
            c.ENV_DLQ_URL: self.dlq_url,
            c.ENV_HOME_REGION: "US",
            c.ENV_MAX_RECORD_AGE_DAYS: "3650",  # the fixtures are dated 2026-11-18
            c.ENV_MAX_CLOCK_SKEW_S: str(10 * 365 * 86400),
        }

    def aggregates(self) -> dict[tuple[str, str], dict[str, int]]:
        items: dict[tuple[str, str], dict[str, int]] = {}
        kwargs: dict[str, Any] = {"TableName": self.table, "ConsistentRead": True}
        while True:
            page = self.dynamodb.scan(**kwargs)
            for item in page["Items"]:
                if item[c.TABLE_SORT_KEY]["S"] == "claim":
                    continue
                key = (item[c.TABLE_PARTITION_KEY]["S"], item[c.TABLE_SORT_KEY]["S"])
                items[key] = {name: int(item[name]["N"]) for name in (*COUNTERS, c.TABLE_TTL_ATTRIBUTE)}
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def dlq_messages(self, expected: int, deadline_s: float = 20.0) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        end = time.monotonic() + deadline_s
        while len(messages) < expected and time.monotonic() < end:
            page = self.sqs.receive_message(QueueUrl=self.dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            for message in page.get("Messages", []):
                messages.append(orjson.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.dlq_url, ReceiptHandle=message["ReceiptHandle"])
        return messages

    def output_records(self) -> list[dict[str, Any]]:
        shard = self.kinesis.list_shards(StreamName=self.output_stream)["Shards"][0]["ShardId"]
        iterator = self.kinesis.get_shard_iterator(
            StreamName=self.output_stream, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        out: list[dict[str, Any]] = []
        for _ in range(100):
            page = self.kinesis.get_records(ShardIterator=iterator, Limit=10000)
            out += [orjson.loads(r["Data"]) for r in page["Records"]]
            iterator = page["NextShardIterator"]
            if not page["Records"]:
                break
        return out
