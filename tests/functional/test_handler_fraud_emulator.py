"""The handler with its fraud rules against the emulator: a velocity flood reaches the alert bus once
(tokenised), the output stream tags the flood's CDRs, and a re-delivered batch sends nothing new."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

import pipeline.handler as handler_module
from infra.local.emulator import EmulatorProcess
from pipeline import constants as c
from pipeline.fraud.alerts import ALERT_SOURCE
from tests.support.emulator_pipeline import Pipeline, drain_queue
from tests.support.pipeline_events import FLOODER, flood, kinesis_event


@pytest.fixture
def fraud_pipeline(
    clean_emulator: EmulatorProcess, aws_session: boto3.Session, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Pipeline, Any, str]]:
    resources = Pipeline(aws_session, clean_emulator.endpoint_url)
    events = aws_session.client("events", endpoint_url=clean_emulator.endpoint_url)
    sqs = resources.sqs
    bus = c.resource_name("test", c.ALERT_BUS_SUFFIX)
    events.create_event_bus(Name=bus)
    queue_url = sqs.create_queue(QueueName="alerts-tap")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(Name="tap", EventBusName=bus, EventPattern=json.dumps({"source": [ALERT_SOURCE]}))
    events.put_targets(Rule="tap", EventBusName=bus, Targets=[{"Id": "q", "Arn": queue_arn}])
    monkeypatch.setenv("AWS_ENDPOINT_URL", clean_emulator.endpoint_url)
    for name, value in {**resources.env, c.ENV_ALERT_BUS: bus, c.ENV_FRAUD_TOKEN_KEY: "f" * 32}.items():
        monkeypatch.setenv(name, value)
    handler_module.configure()
    yield resources, sqs, queue_url
    handler_module._processor = None


def test_flood_alerts_once_on_the_bus_and_tags_the_output(fraud_pipeline: tuple[Pipeline, Any, str]) -> None:
    resources, sqs, queue_url = fraud_pipeline
    event = kinesis_event(flood(12))
    # When the flood is processed, then delivered again
    first = handler_module.handler(event, None)
    again = handler_module.handler(event, None)
    # Then nothing is retried, one velocity alert is on the bus (by token, never the clear number)
    assert first == again == {"batchItemFailures": []}
    bodies = drain_queue(sqs, queue_url, expected=1, deadline_s=10)
    velocity = [b for b in bodies if json.loads(b)["detail"]["rule_id"] == "velocity"]
    assert len(velocity) == 1
    assert FLOODER.lstrip("+") not in velocity[0]
    # And the output stream carries the rule id on the flood's CDRs
    assert any("velocity" in line.get("fraud_rules", []) for line in resources.output_records())
