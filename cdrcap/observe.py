"""Read what a drained target holds (aggregates table, DLQ, archive, output stream) for `cdrcap verify`.

Read-only: DLQ messages are received with a visibility timeout and made visible again afterwards, so the
queue is unchanged (SQS may still hand a message out twice: messages are de-duplicated by MessageId).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from capacity.quotas import GET_RECORDS_MAX_RECORDS
from cdrcap.truth import Aggregates, Observed, dedup_keys
from infra.aws import Target, client
from pipeline import constants as c
from pipeline import ledger
from pipeline.aggregate import COUNTERS

ARCHIVE_PREFIX = "cdr/"
DLQ_VISIBILITY_S = 120
EMPTY_RECEIVES_TO_STOP = 3
READ_DEADLINE_S = 120.0
# The fraud stage keeps its windows, watermarks and alert markers in the same table under this partition
# key prefix (pipeline/fraud/dynamo_state.py): the fraud rules' state, not aggregates.
FRAUD_STATE_PREFIX = "fraud#"
RESOURCE_KEYS = (
    c.OUTPUT_AGGREGATES_TABLE,
    c.OUTPUT_ARCHIVE_BUCKET,
    c.OUTPUT_DLQ_URL,
    c.OUTPUT_OUTPUT_STREAM_NAME,
)


@dataclass(frozen=True)
class Resources:
    """The four stores of one deployed pipeline (names as the stack outputs give them)."""

    table: str
    bucket: str
    dlq_url: str
    output_stream: str

    @classmethod
    def from_outputs(cls, outputs: dict[str, Any]) -> Resources:
        missing = [key for key in RESOURCE_KEYS if not outputs.get(key)]
        if missing:
            raise KeyError(", ".join(missing))
        return cls(*(str(outputs[key]) for key in RESOURCE_KEYS))


def _deadline_passed(started: float) -> bool:
    return time.monotonic() - started > READ_DEADLINE_S


def read_aggregates(dynamodb: Any, table: str) -> Aggregates:
    """Every aggregate item, whatever the exactly-once design wrote: per_record/folded items as they are
    (claims skipped), ledger delta items summed per (pk, sk) (claims items skipped); the fraud stage's state
    items skipped."""
    items: Aggregates = {}
    kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        page = dynamodb.scan(**kwargs)
        for item in page["Items"]:
            key = (item[c.TABLE_PARTITION_KEY]["S"], item[c.TABLE_SORT_KEY]["S"])
            if key[1] == "claim" or key[0].startswith((ledger.CLAIMS_PREFIX, FRAUD_STATE_PREFIX)):
                continue
            if key[0].startswith(ledger.DELTA_PREFIX):
                _add_delta(items, item[ledger.DELTA_ATTRIBUTE]["B"])
                continue
            _add(items, key, [int(item[name]["N"]) if name in item else 0 for name in COUNTERS])
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _add(items: Aggregates, key: tuple[str, str], vector: list[int]) -> None:
    total = items.get(key)
    if total is None:
        items[key] = dict(zip(COUNTERS, vector, strict=True))
    else:
        for name, value in zip(COUNTERS, vector, strict=True):
            total[name] += value


def _add_delta(items: Aggregates, blob: Any) -> None:
    for key, vector in ledger.decode_delta(bytes(blob)).items():
        _add(items, key, vector)


def read_dlq(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    bodies: dict[str, dict[str, Any]] = {}
    handles: list[str] = []
    empty, started = 0, time.monotonic()
    while empty < EMPTY_RECEIVES_TO_STOP and not _deadline_passed(started):
        page = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=DLQ_VISIBILITY_S, WaitTimeSeconds=0
        )
        messages = page.get("Messages", [])
        empty = 0 if messages else empty + 1
        for message in messages:
            bodies[message["MessageId"]] = json.loads(message["Body"])
            handles.append(message["ReceiptHandle"])
    for start in range(0, len(handles), 10):  # visible again: verify leaves the queue as it found it
        entries = [
            {"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": 0}
            for i, h in enumerate(handles[start : start + 10])
        ]
        sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=entries)
    return list(bodies.values())


def read_archive(s3: Any, bucket: str) -> Counter[str]:
    seen: Counter[str] = Counter()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=ARCHIVE_PREFIX):
        for obj in page.get("Contents", []):
            seen.update(dedup_keys(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()))
    return seen


def read_stream(kinesis: Any, stream: str) -> Counter[str]:
    """The dedup_key of every record of every shard, from TRIM_HORIZON to an empty page (drained)."""
    seen: Counter[str] = Counter()
    started = time.monotonic()
    for shard in kinesis.list_shards(StreamName=stream)["Shards"]:
        iterator = kinesis.get_shard_iterator(
            StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator and not _deadline_passed(started):
            page = kinesis.get_records(ShardIterator=iterator, Limit=GET_RECORDS_MAX_RECORDS)
            seen.update(str(json.loads(record["Data"])["dedup_key"]) for record in page["Records"])
            if not page["Records"]:
                break
            iterator = page.get("NextShardIterator")
    return seen


def observe_target(target: Target, resources: Resources) -> Observed:
    """What the target's stores hold now. The output stream is read from the emulator/AWS directly."""
    direct = Target(target.name, target.region, target.profile, target.endpoint_url, None, target.is_local)
    return Observed(
        read_aggregates(client(direct, "dynamodb"), resources.table),
        read_dlq(client(direct, "sqs"), resources.dlq_url),
        read_archive(client(direct, "s3"), resources.bucket),
        read_stream(client(direct, "kinesis"), resources.output_stream),
    )
