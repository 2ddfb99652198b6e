"""The handler against the embedded emulator: real DynamoDB transactions, S3, Kinesis and SQS."""

import dataclasses
import gzip
from collections import Counter
from typing import Any

import orjson
import pytest

from cdrcap.observe import read_aggregates
from pipeline import handler as handler_module
from pipeline.aggregate import Claim
from pipeline.config import load_config
from pipeline.errors import TransientStoreError
from pipeline.processor import BatchProcessor
from pipeline.stores import InMemoryAggregateStore, in_memory_stores
from tests.support.emulator_pipeline import BUCKET, Pipeline
from tests.support.pipeline_events import BASE_SEQUENCE, NOW_MS, as_json, kinesis_event, make_cdr, mixed_batch


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


def test_the_metrics_line_meters_every_lazily_built_client(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a freshly configured handler: its AWS clients are built on first use
    handler_module.configure()
    payloads, expected = mixed_batch(500)
    # When it processes a batch with good and rejected records
    handler_module.handler(kinesis_event(payloads), None)
    # Then the batch's metrics line counts the requests of all four clients it built meanwhile
    emf = orjson.loads(capsys.readouterr().out.splitlines()[0])
    assert emf["AwsDynamoDBRequests"] >= 1 and emf["AwsDynamoDBWriteUnits"] > 0
    assert emf["AwsKinesisPutRecords"] == expected["ok"] and emf["AwsS3PutRequests"] == 1
    assert emf["AwsSqsMessages"] == sum(n for reason, n in expected.items() if reason != "ok")


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


def test_ledger_commit_conflicts_on_a_moved_version_and_reads_the_winner_back(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CDRCAP_EXACTLY_ONCE=ledger on real transactions: a writer committing between our read and our commit
    cancels ours (the claims item's version condition); the re-read makes its unit a replay for us."""
    monkeypatch.setenv("CDRCAP_EXACTLY_ONCE", "ledger")
    handler_module.configure()
    store = handler_module._processor.stores.aggregates  # type: ignore[union-attr]
    shard, key = "shardId-000000000000", ("cell#x", "m#2026-11-18T13:00Z")
    ours = [
        Claim("a", f"{shard}/{BASE_SEQUENCE}/", ("", ""), NOW_MS),
        Claim("b", f"{shard}/{BASE_SEQUENCE + 1}/", ("", ""), NOW_MS),
    ]
    theirs = [Claim("b", f"{shard}/{BASE_SEQUENCE + 1}/", ("", ""), NOW_MS)]
    read = store._read_buckets
    raced = {"done": False}

    def read_then_race(keys: Any) -> Any:
        states = read(keys)
        if not raced["done"]:  # another lane commits unit b right after our read
            raced["done"] = True
            other = type(store)(store.table, store.dynamodb)
            assert other.apply(theirs, {key: [1, 0, 0, 0, 0, 0, 0]}, {key: 1}).committed
        return states

    monkeypatch.setattr(store, "_read_buckets", read_then_race)
    monkeypatch.setattr("pipeline.aws_stores._backoff", lambda attempt: None)
    result = store.apply(ours, {key: [2, 0, 0, 0, 0, 0, 0]}, {key: 1})
    # Then our commit wrote nothing and names b as held; b's owner is its own position (a replay)
    assert not result.committed and result.conflicting_claims == (1,)
    assert store.claim_owners(ours) == {theirs[0].position: theirs[0].position}
    assert read_aggregates(pipeline.dynamodb, pipeline.table)[key]["records"] == 1
