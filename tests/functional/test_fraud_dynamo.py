"""The DynamoDB fraud state store and the EventBridge alert sink against the embedded emulator."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest

from infra.local.emulator import EmulatorProcess
from pipeline.constants import TABLE_PARTITION_KEY, TABLE_SORT_KEY
from pipeline.fraud.alerts import ALERT_DETAIL_TYPE, ALERT_SOURCE, EventBridgeAlertSink
from pipeline.fraud.dynamo_state import DynamoDBStateStore
from pipeline.fraud.engine import FraudEngine
from pipeline.fraud.rules import load_rules
from pipeline.fraud.state import Contribution, WindowKey, position
from pipeline.fraud.tokens import SubscriberTokenizer
from tests.support.fraud_support import FOREIGN_LURE, TEST_KEY, lure_calls

pytestmark = pytest.mark.functional

KEY = WindowKey("tok0123456789abcdef012345", 900, 0)
CAPS = {"r.b": 8}


@pytest.fixture
def dynamodb(emulator: EmulatorProcess, aws_session: Any) -> Any:
    return aws_session.client("dynamodb", endpoint_url=emulator.endpoint_url)


@pytest.fixture
def store(dynamodb: Any) -> DynamoDBStateStore:
    return DynamoDBStateStore(dynamodb, create_table(dynamodb))


def create_table(dynamodb: Any) -> str:
    """A fresh table shaped like the aggregates table (the fraud items live there)."""
    table = f"fraud-{uuid.uuid4().hex[:8]}"
    dynamodb.create_table(
        TableName=table,
        KeySchema=[
            {"AttributeName": TABLE_PARTITION_KEY, "KeyType": "HASH"},
            {"AttributeName": TABLE_SORT_KEY, "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": TABLE_PARTITION_KEY, "AttributeType": "S"},
            {"AttributeName": TABLE_SORT_KEY, "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 0.2})
    return table


def _contributions(first: int, last: int) -> list[Contribution]:
    return [
        Contribution("shard-0/k1", position(i), {"r.calls": 1}, {"r.b": (f"m{i}",)})
        for i in range(first, last + 1)
    ]


def test_first_batch_is_one_update(store: DynamoDBStateStore) -> None:
    state = store.apply(KEY, _contributions(1, 5), CAPS, 2_000_000_000)

    assert (state.count("r.calls"), len(state.members("r.b")), store.writes) == (5, 5, 1)


def test_redelivered_suffix_counts_only_new_records(store: DynamoDBStateStore) -> None:
    store.apply(KEY, _contributions(1, 5), CAPS, 2_000_000_000)

    again = store.apply(KEY, _contributions(1, 5), CAPS, 2_000_000_000)
    suffix = store.apply(KEY, _contributions(4, 7), CAPS, 2_000_000_000)

    assert (again.count("r.calls"), suffix.count("r.calls")) == (5, 7)


def test_set_stops_growing_at_its_cap(store: DynamoDBStateStore) -> None:
    for first in range(1, 40, 6):
        state = store.apply(KEY, _contributions(first, first + 5), CAPS, 2_000_000_000)

    assert state.count("r.calls") == 42
    assert CAPS["r.b"] <= len(state.members("r.b")) <= 2 * CAPS["r.b"]


def test_alert_claim_is_granted_once(store: DynamoDBStateStore) -> None:
    claims = [store.claim_alert(KEY, "wangiri", 2_000_000_000) for _ in range(3)]

    assert claims == [True, False, False]


def test_engine_alert_reaches_the_bus_once_with_a_token(
    store: DynamoDBStateStore, emulator: EmulatorProcess, aws_session: Any
) -> None:
    # Given a bus whose rule forwards fraud alerts to a queue
    events = aws_session.client("events", endpoint_url=emulator.endpoint_url)
    sqs = aws_session.client("sqs", endpoint_url=emulator.endpoint_url)
    bus = f"alerts-{uuid.uuid4().hex[:8]}"
    events.create_event_bus(Name=bus)
    queue_url = sqs.create_queue(QueueName=bus)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(Name="fraud", EventBusName=bus, EventPattern=json.dumps({"source": [ALERT_SOURCE]}))
    events.put_targets(Rule="fraud", EventBusName=bus, Targets=[{"Id": "q", "Arn": queue_arn}])
    engine = FraudEngine(
        load_rules(),
        store,
        EventBridgeAlertSink(events, bus),
        SubscriberTokenizer(TEST_KEY),
        home_region="GB",
        write_concurrency=4,
    )
    lures = lure_calls(30)
    sequences = [str(i) for i in range(len(lures))]

    # When the batch is processed and then re-delivered
    first = engine.evaluate(lures, "b1", shard_id="shard-0", sequence_numbers=sequences)
    again = engine.evaluate(lures, "b1", shard_id="shard-0", sequence_numbers=sequences)

    # Then exactly one alert is on the bus, naming the lure by token only
    assert (len(first.alerts), len(again.alerts)) == (1, 0)
    bodies = _drain(sqs, queue_url, expected=1, deadline_s=10)
    assert len(bodies) == 1
    event = json.loads(bodies[0])
    assert event["detail-type"] == ALERT_DETAIL_TYPE
    assert event["detail"]["subscriber_token"] == SubscriberTokenizer(TEST_KEY).token(FOREIGN_LURE)
    assert FOREIGN_LURE.lstrip("+") not in bodies[0]


def _drain(sqs: Any, queue_url: str, *, expected: int, deadline_s: float) -> list[str]:
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


def test_two_lanes_in_one_batch_keep_their_own_watermarks(store: DynamoDBStateStore) -> None:
    lane_a = [Contribution("shard-0/a", position(i), {"r.calls": 1}, {}) for i in range(10, 13)]
    lane_b = [Contribution("shard-0/b", position(i), {"r.calls": 1}, {}) for i in range(1, 4)]
    store.apply(KEY, lane_a + lane_b, CAPS, 2_000_000_000)

    lane_b_again = [Contribution("shard-0/b", position(i), {"r.calls": 1}, {}) for i in range(1, 5)]
    state = store.apply(KEY, lane_b_again, CAPS, 2_000_000_000)

    assert state.count("r.calls") == 7


def test_read_returns_the_applied_state_or_empty(store: DynamoDBStateStore) -> None:
    store.apply(KEY, _contributions(1, 3), CAPS, 2_000_000_000)

    assert store.read(KEY).count("r.calls") == 3
    assert store.read(WindowKey(KEY.subscriber_token, 900, 900_000)).counters == {}
