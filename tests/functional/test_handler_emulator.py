"""The handler against the embedded emulator: real DynamoDB transactions, S3, Kinesis and SQS."""

import dataclasses
import gzip
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import orjson
import pytest

from infra.local.emulator import EmulatorProcess
from pipeline import constants as c
from pipeline import handler as handler_module
from pipeline.aggregate import COUNTERS, Claim
from pipeline.config import load_config
from pipeline.errors import TransientStoreError
from pipeline.processor import BatchProcessor
from pipeline.stores import InMemoryAggregateStore, in_memory_stores
from tests.support.pipeline_events import BASE_SEQUENCE, NOW_MS, as_json, kinesis_event, make_cdr, mixed_batch

pytestmark = pytest.mark.functional
STACK = c.DEFAULT_STACK_NAME
BUCKET = f"{c.resource_name(STACK, c.ARCHIVE_BUCKET_SUFFIX)}-000000000000-us-east-1"


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
        self.dynamodb.create_table(
            TableName=self.table,
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


@pytest.fixture
def pipeline(
    clean_emulator: EmulatorProcess, aws_session: boto3.Session, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Pipeline]:
    resources = Pipeline(aws_session, clean_emulator.endpoint_url)
    monkeypatch.setenv("AWS_ENDPOINT_URL", clean_emulator.endpoint_url)
    for name, value in resources.env.items():
        monkeypatch.setenv(name, value)
    handler_module.configure()
    yield resources
    handler_module._processor = None


def reference_aggregates(event: dict[str, Any], env: dict[str, str]) -> dict[Any, dict[str, int]]:
    """The same batch through the in-memory fake: the DynamoDB store must agree with it exactly."""
    stores = in_memory_stores()
    BatchProcessor(load_config(env), stores).process(event, now_ms=NOW_MS)
    assert isinstance(stores.aggregates, InMemoryAggregateStore)
    return stores.aggregates.snapshot()


def test_mixed_batch_every_record_accounted_for(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a 500-record batch of JSON v1/v2, CSV, KPL, bad and duplicate records
    payloads, expected = mixed_batch(500)
    event = kinesis_event(payloads)
    # When the handler processes it against the emulator
    response = handler_module.handler(event, None)
    # Then nothing is retried, aggregates match the reference, and every record is in one place
    assert response == {"batchItemFailures": []}
    assert pipeline.aggregates() == reference_aggregates(event, pipeline.env)
    rejected = {k: v for k, v in expected.items() if k != "ok"}
    dlq = pipeline.dlq_messages(sum(rejected.values()))
    assert Counter(m["reason"] for m in dlq) == rejected
    assert all(m["shard_id"] == "shardId-000000000000" and m["sequence_number"] for m in dlq)
    output = pipeline.output_records()
    assert len(output) == expected["ok"] and len({o["dedup_key"] for o in output}) == expected["ok"]
    (archived,) = pipeline.s3.list_objects_v2(Bucket=BUCKET)["Contents"]
    body = pipeline.s3.get_object(Bucket=BUCKET, Key=archived["Key"])["Body"].read()
    assert len(gzip.decompress(body).splitlines()) == expected["ok"]
    emf = orjson.loads(capsys.readouterr().out.splitlines()[0])
    assert emf["RecordsIn"] == sum(expected.values()) and emf["RecordsOk"] == expected["ok"]
    assert emf["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "cdrcap"


def test_redelivery_of_batch_and_suffix_leaves_aggregates_unchanged(pipeline: Pipeline) -> None:
    payloads, expected = mixed_batch(500)
    event = kinesis_event(payloads)
    handler_module.handler(event, None)
    before = pipeline.aggregates()
    # When the whole batch, then a suffix from the middle, are delivered again
    handler_module.handler(event, None)
    handler_module.handler({"Records": event["Records"][237:]}, None)
    # Then the aggregates are exactly the same
    assert pipeline.aggregates() == before
    # and the output stream, at-least-once, still holds each good CDR under one dedup key
    assert len({o["dedup_key"] for o in pipeline.output_records()}) == expected["ok"]


def test_source_duplicate_in_a_later_batch_goes_to_the_dlq(pipeline: Pipeline) -> None:
    handler_module.handler(kinesis_event([as_json(make_cdr(1))], first_seq=0), None)
    # When the producer re-sends the same CDR as a new Kinesis record
    handler_module.handler(kinesis_event([as_json(make_cdr(1))], first_seq=1), None)
    (message,) = pipeline.dlq_messages(1)
    assert message["reason"] == "DUPLICATE_CDR"
    assert message["sequence_number"].endswith("899")  # the second record, not the first
    assert sum(item["records"] for item in pipeline.aggregates().values()) == 3  # cell + anum + dest


def test_emulator_cancels_a_transaction_atomically_with_per_item_reasons(pipeline: Pipeline) -> None:
    """What the idempotency design relies on: a claim conflict cancels every write of the chunk."""
    handler_module.handler(kinesis_event([as_json(make_cdr(1))], first_seq=0), None)
    store = handler_module._processor.stores.aggregates  # type: ignore[union-attr]
    claims = [Claim("fresh-id", "s/1/"), Claim("MSC01:CR00000001:0", "s/2/")]
    result = store.apply(claims, {("cell#x", "m#y"): [1, 0, 0, 0, 0, 0, 0]}, {("cell#x", "m#y"): 1})
    assert not result.committed and result.conflicting_claims == (1,)
    assert ("cell#x", "m#y") not in pipeline.aggregates()
    assert store.claim_owners(claims) == {"MSC01:CR00000001:0": f"shardId-000000000000/{BASE_SEQUENCE}/"}


def test_folded_claims_cancel_the_chunk_on_the_emulator_and_read_back_from_the_item(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CDRCAP_EXACTLY_ONCE=folded on real transactions: the A-number item's claim condition cancels it all."""
    monkeypatch.setenv("CDRCAP_EXACTLY_ONCE", "folded")
    handler_module.configure()
    handler_module.handler(kinesis_event([as_json(make_cdr(1))], first_seq=0), None)
    store = handler_module._processor.stores.aggregates  # type: ignore[union-attr]
    anum = next(key for key in pipeline.aggregates() if key[0].startswith("anum#"))
    position = f"shardId-000000000000/{BASE_SEQUENCE}/"
    claims = [Claim("fresh-id", "s/1/", ("anum#fresh", anum[1])), Claim("MSC01:CR00000001:0", position, anum)]
    deltas = {("cell#x", "m#y"): [1, 0, 0, 0, 0, 0, 0], ("anum#fresh", anum[1]): [1] * 7, anum: [1] * 7}
    result = store.apply(claims, deltas, dict.fromkeys(deltas, 1))
    assert not result.committed and result.conflicting_claims == (1,)
    assert ("cell#x", "m#y") not in pipeline.aggregates() and pipeline.aggregates()[anum]["records"] == 1
    assert store.claim_owners(claims) == {"MSC01:CR00000001:0": position}


class ThrottledOnce:
    """The real DynamoDB store, except that its `n`-th transaction fails as if throttled beyond retries."""

    def __init__(self, store: Any, n: int) -> None:
        self.store, self.n, self.calls = store, n, 0

    def apply(self, *args: Any) -> Any:
        self.calls += 1
        if self.calls == self.n:
            raise TransientStoreError("throttled")
        return self.store.apply(*args)

    def claim_owners(self, claims: Any) -> Any:
        return self.store.claim_owners(claims)


def test_partial_failure_then_suffix_redelivery_is_exact(pipeline: Pipeline) -> None:
    payloads, expected = mixed_batch(500)
    event = kinesis_event(payloads)
    processor = handler_module._processor
    assert processor is not None
    real = processor.stores.aggregates
    processor.stores = dataclasses.replace(processor.stores, aggregates=ThrottledOnce(real, n=4))
    # When the 4th transaction fails transiently
    response = handler_module.handler(event, None)
    failed = [item["itemIdentifier"] for item in response["batchItemFailures"]]
    assert failed, "a transient failure must be reported"
    seqs = [r["kinesis"]["sequenceNumber"] for r in event["Records"]]
    lowest = seqs.index(failed[0])
    # And Lambda re-delivers from the lowest failed sequence number (with the store healthy again)
    processor.stores = dataclasses.replace(processor.stores, aggregates=real)
    retry = handler_module.handler({"Records": event["Records"][lowest:]}, None)
    # Then every record is accounted for and the aggregates equal one clean delivery
    assert retry == {"batchItemFailures": []}
    assert pipeline.aggregates() == reference_aggregates(event, pipeline.env)
    rejected = {k: v for k, v in expected.items() if k != "ok"}
    assert Counter(m["reason"] for m in pipeline.dlq_messages(sum(rejected.values()))) == rejected
