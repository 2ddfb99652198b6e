"""The fraud rules inside the handler: matched CDRs carry their rule ids downstream, one alert per window,
re-delivery does not alert again, and a fraud-state failure defers the batch instead of losing it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from pipeline.config import load_config
from pipeline.fraud.alerts import InMemoryAlertSink
from pipeline.fraud.engine import FraudEngine
from pipeline.fraud.errors import FraudStateError
from pipeline.fraud.rules import load_rules
from pipeline.fraud.state import InMemoryStateStore
from pipeline.fraud.tokens import SubscriberTokenizer
from pipeline.processor import BatchOutcome, BatchProcessor
from pipeline.stores import InMemoryOutputStream, Stores, in_memory_stores
from tests.support.pipeline_events import FLOODER, NOW_MS, PIPELINE_ENV, flood, kinesis_event

CONFIG = load_config({**PIPELINE_ENV, "CDRCAP_ALERT_BUS": "alerts"})


def engine(state: Any, sink: InMemoryAlertSink) -> FraudEngine:
    return FraudEngine(load_rules(), state, sink, SubscriberTokenizer(b"k" * 32))


def run(stores: Stores, fraud: FraudEngine, payloads: Sequence[bytes]) -> BatchOutcome:
    return BatchProcessor(CONFIG, stores, fraud).process(kinesis_event(list(payloads)), now_ms=NOW_MS)


def output_rules(stores: Stores) -> list[list[str]]:
    assert isinstance(stores.output, InMemoryOutputStream)
    return [orjson.loads(line).get("fraud_rules", []) for _, line in stores.output.records]


def test_a_velocity_flood_alerts_once_and_tags_its_cdrs() -> None:
    # Given a batch with 12 calls in one minute from one A-number (velocity threshold 10)
    stores, sink = in_memory_stores(), InMemoryAlertSink()
    # When processed with the fraud rules on
    outcome = run(stores, engine(InMemoryStateStore(), sink), flood(12))
    # Then one velocity alert, with a token and no clear MSISDN, and the flood's CDRs carry the rule id
    velocity = [a for a in sink.alerts if a.rule_id == "velocity"]
    assert len(velocity) == 1 and outcome.fraud_alerts >= 1
    assert FLOODER not in orjson.dumps(velocity[0].detail()).decode()
    assert any("velocity" in rules for rules in output_rules(stores))


def test_redelivery_neither_alerts_again_nor_double_counts() -> None:
    # Given a flood already processed once
    stores, sink, state = in_memory_stores(), InMemoryAlertSink(), InMemoryStateStore()
    fraud = engine(state, sink)
    run(stores, fraud, flood(12))
    alerts_after_first = len(sink.alerts)
    # When Lambda re-delivers the same batch
    again = run(stores, fraud, flood(12))
    # Then no new alert is sent
    assert len(sink.alerts) == alerts_after_first
    assert again.fraud_alerts == 0


class FailingState(InMemoryStateStore):
    def apply(self, *args: Any, **kwargs: Any) -> Any:
        raise FraudStateError("throttled")


def test_a_fraud_state_failure_defers_the_batch_for_redelivery() -> None:
    # Given a fraud state store that fails
    stores = in_memory_stores()
    # When a batch is processed
    outcome = run(stores, engine(FailingState(), InMemoryAlertSink()), flood(3))
    # Then nothing is emitted and every record is handed back for re-delivery
    assert outcome.deferred == 3
    assert len(outcome.failed_sequence_numbers) == 3
    assert output_rules(stores) == []


def test_the_metrics_line_counts_alerts_per_rule() -> None:
    # Given a flood that raises a velocity alert
    outcome = run(in_memory_stores(), engine(InMemoryStateStore(), InMemoryAlertSink()), flood(12))
    # When the handler writes its EMF line
    from pipeline.handler import metrics_line

    line = orjson.loads(metrics_line(outcome, 1.0, "cdrcap"))
    # Then the per-rule counts add up to the total and name the rule
    assert line["FraudAlerts_velocity"] == outcome.fraud_alerts_by_rule["velocity"] >= 1
    per_rule = sum(v for k, v in line.items() if k.startswith("FraudAlerts_"))
    assert per_rule == line["FraudAlerts"] == outcome.fraud_alerts
