"""Helpers for the local ESM runtime tests: a stream + DLQ on the emulator and a runtime around a handler."""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from infra.local.emulator import EmulatorProcess, free_port
from infra.local.esm.config import EsmConfig
from infra.local.esm.runtime import EsmRuntime
from infra.local.limits_proxy import LimitsProxyServer
from tests.support.local_handlers import OUT_ENV

HANDLERS = "tests.support.local_handlers"
DEADLINE_S = 30.0


def wait_for(predicate: Callable[[], Any], deadline_s: float = DEADLINE_S, interval_s: float = 0.1) -> Any:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(interval_s)
    raise AssertionError(f"condition not met within {deadline_s} s")


@dataclass
class StreamFixture:
    emulator: EmulatorProcess
    kinesis: Any
    sqs: Any
    stream_name: str
    stream_arn: str
    queue_url: str
    proxy_url: str
    out_dir: Path
    state_dir: Path

    def put(self, items: list[tuple[str, bytes]]) -> list[str]:
        """Put (partition key, data) straight into the emulator, in order; returns the sequence numbers."""
        numbers = []
        for start in range(0, len(items), 100):
            chunk = items[start : start + 100]
            response = self.kinesis.put_records(
                StreamName=self.stream_name, Records=[{"PartitionKey": k, "Data": d} for k, d in chunk]
            )
            assert response["FailedRecordCount"] == 0
            numbers += [r["SequenceNumber"] for r in response["Records"]]
        return numbers

    def config(self, handler: str, **overrides: Any) -> EsmConfig:
        settings: dict[str, Any] = {
            "stream_name": self.stream_name,
            "stream_arn": self.stream_arn,
            "function_name": "cdrcap-test-fn",
            "kinesis_endpoint_url": self.proxy_url,
            "endpoint_url": self.emulator.endpoint_url,
            "state_dir": self.state_dir,
            "handler": f"{HANDLERS}.{handler}",
            "on_failure_destination_url": self.queue_url,
            "concurrency_limit": 4,
            "handler_env": {OUT_ENV: str(self.out_dir)},
            **overrides,
        }
        return EsmConfig(**settings)

    def invocations(self) -> list[dict[str, Any]]:
        path = self.out_dir / "invocations.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line]

    def processed(self) -> list[str]:
        return [n for i in self.invocations() for n in i["sequence_numbers"]]

    def trace(self) -> list[dict[str, str]]:
        path = self.state_dir / "invocations.csv"
        if not path.exists():
            return []
        with open(path, newline="") as handle:
            return list(csv.DictReader(handle))

    def dlq_messages(self, expected: int) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []

        def drained() -> bool:
            response = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            )
            messages.extend(json.loads(m["Body"]) for m in response.get("Messages", []))
            return len(messages) >= expected

        wait_for(drained)
        return messages


@contextmanager
def stream_fixture(
    emulator: EmulatorProcess, tmp_path: Path, *, shards: int = 1, scale: float = 1.0
) -> Iterator[StreamFixture]:
    session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
    kinesis = session.client("kinesis", endpoint_url=emulator.endpoint_url)
    sqs = session.client("sqs", endpoint_url=emulator.endpoint_url)
    name = f"esm-test-{time.monotonic_ns()}"
    kinesis.create_stream(StreamName=name, ShardCount=shards)
    summary = wait_for(
        lambda: (
            (s := kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"])
            and s["StreamStatus"] == "ACTIVE"
            and s
        )
    )
    queue_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    proxy = LimitsProxyServer(free_port(), emulator.endpoint_url, scale)
    proxy.start_in_thread()
    out_dir, state_dir = tmp_path / "out", tmp_path / "state"
    out_dir.mkdir()
    try:
        yield StreamFixture(
            emulator, kinesis, sqs, name, summary["StreamARN"], queue_url, proxy.url, out_dir, state_dir
        )
    finally:
        proxy.shutdown()
        proxy.server_close()


@contextmanager
def running(config: EsmConfig) -> Iterator[EsmRuntime]:
    runtime = EsmRuntime(config)
    runtime.start()
    try:
        yield runtime
    finally:
        runtime.stop(timeout_s=15)
