"""The EMF line's DynamoWriteRequests: a batch's DynamoDB write requests, next to DynamoWrites (items)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import orjson

from pipeline.aggregate import Claim, ItemKey
from pipeline.config import load_config
from pipeline.fraud.alerts import InMemoryAlertSink
from pipeline.fraud.engine import FraudEngine
from pipeline.fraud.rules import load_rules
from pipeline.fraud.state import InMemoryStateStore
from pipeline.fraud.tokens import SubscriberTokenizer
from pipeline.handler import metrics_line
from pipeline.processor import BatchOutcome, BatchProcessor
from pipeline.stores import ApplyResult, InMemoryAggregateStore, Stores, in_memory_stores
from tests.support.pipeline_events import NOW_MS, PIPELINE_ENV, flood, kinesis_event, mixed_batch

ENV = PIPELINE_ENV


class CountingAggregates(InMemoryAggregateStore):
    """The in-memory store, counting the transactions that committed."""

    committed: int = 0

    def apply(
        self, claims: Sequence[Claim], deltas: Mapping[ItemKey, list[int]], expires_at: Mapping[ItemKey, int]
    ) -> ApplyResult:
        result = super().apply(claims, deltas, expires_at)
        self.committed += result.committed
        return result


def stores_with(aggregates: InMemoryAggregateStore) -> Stores:
    base = in_memory_stores()
    return Stores(aggregates=aggregates, archive=base.archive, output=base.output, dlq=base.dlq)


def test_aggregates_count_one_request_per_committed_transaction() -> None:
    # Given a 500-record mixed batch and an aggregate store that counts its commits
    payloads, _ = mixed_batch(500)
    aggregates = CountingAggregates()
    # When processed without fraud rules
    outcome = BatchProcessor(load_config(ENV), stores_with(aggregates)).process(
        kinesis_event(payloads), now_ms=NOW_MS
    )
    # Then each committed transaction is one request, carrying many item writes
    assert outcome.dynamo_write_requests == aggregates.committed > 0
    assert outcome.dynamo_writes > outcome.dynamo_write_requests


def test_fraud_state_requests_are_added_to_the_aggregates_ones() -> None:
    # Given the fraud rules on, over an in-memory state store, and a flood of calls
    aggregates, state = CountingAggregates(), InMemoryStateStore()
    fraud = FraudEngine(load_rules(), state, InMemoryAlertSink(), SubscriberTokenizer(b"k" * 32))
    config = load_config({**ENV, "CDRCAP_ALERT_BUS": "alerts"})
    # When the batch is processed
    outcome = BatchProcessor(config, stores_with(aggregates), fraud).process(
        kinesis_event(flood(12)), now_ms=NOW_MS
    )
    # Then the requests are the aggregates' transactions plus the state store's write requests
    assert state.writes > 0
    assert outcome.dynamo_write_requests == aggregates.committed + state.writes


def test_the_metrics_line_reports_write_requests_next_to_item_writes() -> None:
    # Given an outcome with 120 item writes carried by 3 requests
    outcome = BatchOutcome(records_in=100, dynamo_writes=120, dynamo_write_requests=3)
    # When the handler writes its EMF line
    line = orjson.loads(metrics_line(outcome, 1.0, "cdrcap"))
    # Then both are metrics of the document, as counts
    assert (line["DynamoWrites"], line["DynamoWriteRequests"]) == (120, 3)
    metrics = {m["Name"]: m["Unit"] for m in line["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert metrics["DynamoWriteRequests"] == "Count"
