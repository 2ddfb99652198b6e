"""The AWS stores' retry logic, against small fake clients that answer like the AWS APIs do."""

import base64
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from pipeline import aws_stores, ledger
from pipeline.aggregate import Claim
from pipeline.aws_stores import (
    DynamoAggregateStore,
    KinesisOutputStream,
    LedgerDynamoAggregateStore,
    SqsDeadLetterQueue,
)
from pipeline.errors import ConfigError, TransientStoreError
from pipeline.metering import METER
from pipeline.stores import ledger_item_bytes
from tests.support.fakes import FakeDynamo, cancelled

KEY = ("cell#310-260-1-1", "m#2026-11-18T13:00Z")


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aws_stores, "_backoff", lambda attempt: None)


def apply(store: DynamoAggregateStore) -> Any:
    return store.apply([Claim("a", "s/1/"), Claim("b", "s/2/")], {KEY: [1, 1, 1, 60, 55, 0, 0]}, {KEY: 99})


def test_transaction_conflict_is_retried_until_it_commits() -> None:
    dynamo = FakeDynamo([cancelled("None", "None", "TransactionConflict"), {"ConsumedCapacity": []}])
    result = apply(DynamoAggregateStore("table", dynamo))
    assert result.committed and result.write_units == 6 and len(dynamo.calls) == 2


def test_claim_conflicts_are_reported_by_claim_index() -> None:
    dynamo = FakeDynamo([cancelled("None", "ConditionalCheckFailed", "None")])
    result = apply(DynamoAggregateStore("table", dynamo))
    assert not result.committed and result.conflicting_claims == (1,)


def test_persistent_throttling_becomes_a_transient_store_error() -> None:
    dynamo = FakeDynamo([cancelled("None", "None", "ThrottlingError")] * aws_stores.SINK_ATTEMPTS)
    with pytest.raises(TransientStoreError, match="still failing"):
        apply(DynamoAggregateStore("table", dynamo))


def test_update_adds_every_counter_and_sets_the_ttl() -> None:
    dynamo = FakeDynamo([{}])
    apply(DynamoAggregateStore("table", dynamo))
    update = dynamo.calls[0]["TransactItems"][2]["Update"]
    assert update["UpdateExpression"].startswith("ADD #c0 :c0")
    assert update["ExpressionAttributeValues"][":c4"] == {"N": "55"}
    assert update["ExpressionAttributeValues"][":ttl"] == {"N": "99"}
    claim = dynamo.calls[0]["TransactItems"][0]["Put"]
    assert claim["ConditionExpression"] == "attribute_not_exists(#pk)" and claim["Item"]["owner"] == {
        "S": "s/1/"
    }


class FakeLedgerDynamo(FakeDynamo):
    """FakeDynamo whose consistent reads find no claims item (every bucket new)."""

    def __init__(self, answers: list[Any]) -> None:
        super().__init__(answers)
        self.reads = 0

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        self.reads += 1
        return {"Responses": {name: [] for name in RequestItems}}


def apply_ledger(store: LedgerDynamoAggregateStore) -> Any:
    claims = [Claim("a", "shardId-0/1/", ("", ""), 1_000), Claim("b", "shardId-0/2/", ("", ""), 1_000)]
    return store.apply(claims, {KEY: [2, 1, 1, 60, 55, 0, 0]}, {KEY: 99})


def test_ledger_commits_through_the_same_retries_as_per_record() -> None:
    # Given a commit cancelled by a concurrent transaction (transient), then accepted
    dynamo = FakeLedgerDynamo(
        [cancelled("None", "TransactionConflict"), {"ConsumedCapacity": [{"WriteCapacityUnits": 4.0}]}]
    )
    result = apply_ledger(LedgerDynamoAggregateStore("table", dynamo))
    # Then the same transaction is sent again without reading the claims again, and its units reported
    assert result.committed and result.write_units == 4 and len(dynamo.calls) == 2 and dynamo.reads == 1
    # And it held one claims item (conditioned: absent) and one delta item
    items = dynamo.calls[1]["TransactItems"]
    assert len(items) == 2 and all(
        i["Put"]["ConditionExpression"] == "attribute_not_exists(#pk)" for i in items
    )


def test_a_failed_ledger_condition_reads_the_claims_again_before_committing() -> None:
    # Given another delivery that committed the bucket between our read and our commit
    dynamo = FakeLedgerDynamo([cancelled("ConditionalCheckFailed", "None"), {"ConsumedCapacity": []}])
    result = apply_ledger(LedgerDynamoAggregateStore("table", dynamo))
    # Then the store read again (optimistic lock) and committed on the second round
    assert result.committed and dynamo.reads == 2 and len(dynamo.calls) == 2


class StoredClaimsDynamo(FakeDynamo):
    """FakeDynamo whose consistent reads find one claims item, its binary value as `as_read` renders it."""

    def __init__(self, blob: bytes, as_read: Callable[[bytes], bytes | str]) -> None:
        super().__init__([])
        self.item = {
            "pk": {"S": KEY[0]},
            "sk": {"S": KEY[1]},
            ledger.VERSION_ATTRIBUTE: {"N": "3"},
            ledger.CLAIMS_ATTRIBUTE: {"B": as_read(blob)},
            "expires_at": {"N": "99"},
        }

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        return {"Responses": {name: [self.item] for name in RequestItems}}


@pytest.mark.parametrize(
    "as_read",
    [lambda blob: blob, lambda blob: base64.b64encode(blob).decode("ascii")],
    ids=["botocore's bytes", "the prepared parser's base64 text"],
)
def test_the_ledger_reads_a_claims_item_the_same_from_either_parser(
    as_read: Callable[[bytes], bytes | str],
) -> None:
    # Given a stored claims item, read back as botocore's parser (bytes) or the prepared one (base64 text)
    units = {ledger.unit_id("shardId-0/1/"): ledger.cdr_digest("a")}
    blob = ledger.encode_claims(units)
    store = LedgerDynamoAggregateStore("table", StoredClaimsDynamo(blob, as_read))
    # When the store reads its bucket
    state = store._read_buckets([KEY])[KEY]
    # Then it holds the same claims, version, size and lifetime either way
    assert state == ledger.ClaimSet(3, units, ledger_item_bytes(KEY, blob), 99)


@pytest.mark.parametrize("store", [DynamoAggregateStore, LedgerDynamoAggregateStore])
def test_a_missing_table_is_a_config_error_naming_it(store: type[DynamoAggregateStore]) -> None:
    missing = ClientError({"Error": {"Code": "ResourceNotFoundException"}}, "TransactWriteItems")
    dynamo = FakeLedgerDynamo([missing])
    with pytest.raises(ConfigError, match="'nope' names no DynamoDB table"):
        apply_ledger(store("nope", dynamo)) if store is LedgerDynamoAggregateStore else apply(
            store("nope", dynamo)
        )


class FakeKinesis:
    def __init__(self, failing_rounds: int) -> None:
        self.failing_rounds = failing_rounds
        self.sent: list[list[bytes]] = []

    def put_records(self, StreamName: str, Records: list[dict[str, Any]]) -> dict[str, Any]:
        self.sent.append([r["Data"] for r in Records])
        failing = len(self.sent) <= self.failing_rounds
        # The first record of each call is throttled while `failing`.
        return {
            "Records": [
                {"ErrorCode": "ProvisionedThroughputExceededException"} if failing and i == 0 else {}
                for i in range(len(Records))
            ]
        }


def test_output_retries_only_the_failed_subset() -> None:
    kinesis = FakeKinesis(failing_rounds=1)
    failed = KinesisOutputStream("out", kinesis).put([("k", b"a"), ("k", b"b"), ("k", b"c")])
    assert failed == [] and kinesis.sent == [[b"a", b"b", b"c"], [b"a"]]


def test_output_reports_what_still_fails() -> None:
    kinesis = FakeKinesis(failing_rounds=99)
    assert KinesisOutputStream("out", kinesis).put([("k", b"a"), ("k", b"b")]) == [0]


class FakeSqs:
    def __init__(self) -> None:
        self.batches: list[int] = []

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.batches.append(len(Entries))
        return {"Successful": [{"Id": e["Id"]} for e in Entries], "Failed": []}


def test_dlq_sends_in_batches_of_ten() -> None:
    sqs = FakeSqs()
    assert SqsDeadLetterQueue("url", sqs).send([b"{}"] * 23) == []
    assert sqs.batches == [10, 10, 3]


def test_clients_are_built_on_first_use_and_metered(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the stores' SQS client, from credentials that reach nowhere
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "x")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    lazy = aws_stores.client("sqs")
    # Then nothing is built until the client is used
    assert isinstance(lazy, aws_stores.LazyClient) and not lazy.built
    # When the DLQ sends through it (answered by a stub of the built client)
    meta = lazy.meta
    assert lazy.built and lazy.meta is meta  # built once, then the same client
    METER.take()
    with Stubber(lazy._client) as stub:
        stub.add_response("send_message_batch", {"Successful": [], "Failed": []})
        assert SqsDeadLetterQueue("http://q", lazy).send([b"{}"]) == []
    # Then the request is metered like an eagerly built client's
    counts = METER.take()
    assert counts["AwsSqsRequests"] == 1 and counts["AwsSqsMessages"] == 1


def test_a_lazy_client_is_built_once_under_concurrent_first_use(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a lazy client whose construction is counted and slow enough for threads to meet in it
    built: list[str] = []

    def build(service: str) -> SimpleNamespace:
        built.append(service)
        time.sleep(0.05)
        return SimpleNamespace(put_records="the client's method")

    monkeypatch.setattr(aws_stores, "build_client", build)
    lazy = aws_stores.client("kinesis")
    # When 8 threads use it at once
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: lazy.put_records, range(8)))
    # Then it was built once and every caller got the built client's attribute
    assert built == ["kinesis"] and results == ["the client's method"] * 8
