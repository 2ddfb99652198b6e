"""What the benchmarks against the embedded emulator share: a MiniStack of their own with the process's AWS
environment pointed at it, the functional tests' pipeline resources, and the real handler over its AWS
stores with every DynamoDB request counted by operation (botocore's before-call hook)."""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3

from infra.local.emulator import EmulatorProcess, start_emulator
from pipeline import constants as c
from pipeline.aws_stores import aws_fraud_engine, aws_stores
from pipeline.config import load_config
from pipeline.processor import BatchProcessor
from tests.support.emulator_pipeline import Pipeline, create_table

FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
    c.ENV_FRAUD_TOKEN_KEY: "b" * 32,  # read by SubscriberTokenizer.from_env() when the fraud rules are on
}


@contextmanager
def emulator_process(extra_env: Mapping[str, str] | None = None) -> Iterator[EmulatorProcess]:
    """A MiniStack of its own on loopback (started with `extra_env` set), the process's AWS environment
    pointed at it, both restored and the emulator stopped at the end."""
    extra = dict(extra_env or {})
    saved = {name: os.environ.get(name) for name in (*FAKE_AWS_ENV, "AWS_ENDPOINT_URL", *extra)}
    os.environ.update(extra)
    with tempfile.TemporaryDirectory(prefix="cdrcap-bench-") as tmp:
        process = start_emulator(log_dir=Path(tmp))
        try:
            os.environ.update(FAKE_AWS_ENV)
            os.environ["AWS_ENDPOINT_URL"] = process.endpoint_url
            yield process
        finally:
            process.stop()
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


@contextmanager
def emulator_pipeline() -> Iterator[tuple[boto3.Session, Pipeline, str]]:
    """`emulator_process` with the functional tests' pipeline resources: (session, resources, endpoint)."""
    with emulator_process() as emulator:
        session = boto3.Session(
            aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
        )
        yield session, Pipeline(session, emulator.endpoint_url), emulator.endpoint_url


def count_requests(client: Any, counts: Counter[str]) -> None:
    def before_call(model: Any, **_: Any) -> None:
        counts[model.name] += 1

    client.meta.events.register("before-call.*.*", before_call)


def counted_processor(env: Mapping[str, str]) -> tuple[BatchProcessor, Counter[str]]:
    """The real handler's processor over its AWS stores (the fraud rules on when `env` names an alert bus),
    and the counter its DynamoDB requests (aggregates and fraud state) are counted into, by operation."""
    config = load_config(env)
    stores, fraud = aws_stores(config), aws_fraud_engine(config)
    counts: Counter[str] = Counter()
    count_requests(stores.aggregates.dynamodb, counts)  # type: ignore[attr-defined]
    if fraud is not None:
        count_requests(fraud._state._client, counts)  # type: ignore[attr-defined]
    return BatchProcessor(config, stores, fraud), counts


def fraud_env(env: dict[str, str], resources: Pipeline, session: boto3.Session, mode: str) -> dict[str, str]:
    """`env` with the fraud rules on, writing `mode`, into a fresh table of its own."""
    table = create_table(resources.dynamodb)
    bus = c.resource_name(c.DEFAULT_STACK_NAME, c.ALERT_BUS_SUFFIX)
    events = session.client("events")
    if bus not in [b["Name"] for b in events.list_event_buses()["EventBuses"]]:
        events.create_event_bus(Name=bus)
    return {
        **env,
        c.ENV_AGGREGATES_TABLE: table,
        c.ENV_ALERT_BUS: bus,
        c.ENV_FRAUD_STATE_WRITES: mode,
    }
