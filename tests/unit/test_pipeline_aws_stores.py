"""The AWS stores' retry logic, against small fake clients that answer like the AWS APIs do."""

from typing import Any

import pytest

from pipeline import aws_stores
from pipeline.aggregate import Claim
from pipeline.aws_stores import DynamoAggregateStore, KinesisOutputStream, SqsDeadLetterQueue
from pipeline.errors import TransientStoreError
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
