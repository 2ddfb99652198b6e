"""The DynamoDB fraud state store and the EventBridge alert sink against the embedded emulator."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from infra.local.emulator import EmulatorProcess
from pipeline.fraud.alerts import ALERT_DETAIL_TYPE, ALERT_SOURCE, EventBridgeAlertSink
from pipeline.fraud.dynamo_state import DynamoDBStateStore
from pipeline.fraud.engine import FraudEngine
from pipeline.fraud.rules import load_rules
from pipeline.fraud.state import AlertClaim, Contribution, WindowKey, position
from pipeline.fraud.tokens import SubscriberTokenizer
from tests.support.emulator_pipeline import create_table, drain_queue
from tests.support.fraud_support import FOREIGN_LURE, TEST_KEY, lure_calls

KEY = WindowKey("tok0123456789abcdef012345", 900, 0)
CAPS = {"r.b": 8}


@pytest.fixture
def store(dynamodb: Any) -> DynamoDBStateStore:
    return DynamoDBStateStore(dynamodb, create_table(dynamodb))


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


def test_alert_claims_in_a_transaction_refuse_only_the_taken_marker(store: DynamoDBStateStore) -> None:
    # Given the velocity marker of KEY already claimed
    store.claim_alert(KEY, "velocity", 2_000_000_000)
    wanted = [AlertClaim(KEY, rule, 2_000_000_000) for rule in ("wangiri", "velocity", "simultaneous")]

    # When the three are claimed together, then once more
    first, again = store.claim_alerts(wanted), store.claim_alerts(wanted)

    # Then the transaction was cancelled by velocity only and the others were granted once
    assert (first, again) == ([True, False, True], [False, False, False])


def test_read_many_returns_each_state_or_empty(store: DynamoDBStateStore) -> None:
    store.apply(KEY, _contributions(1, 3), CAPS, 2_000_000_000)
    absent = WindowKey(KEY.subscriber_token, 900, 900_000)

    states = store.read_many([KEY, absent, KEY])

    assert [state.count("r.calls") for state in states] == [3, 0, 3]


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
    bodies = drain_queue(sqs, queue_url, expected=1, deadline_s=10)
    assert len(bodies) == 1
    event = json.loads(bodies[0])
    assert event["detail-type"] == ALERT_DETAIL_TYPE
    assert event["detail"]["subscriber_token"] == SubscriberTokenizer(TEST_KEY).token(FOREIGN_LURE)
    assert FOREIGN_LURE.lstrip("+") not in bodies[0]


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
