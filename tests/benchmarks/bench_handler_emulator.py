"""The same batches against the embedded emulator: ours (AWS stores) vs the conventional handler.

Starts its own MiniStack on a free loopback port (stopped at the end), creates the stack's table, output
stream, bucket and queue, and runs BATCHES batches through our handler's real AWS stores and
CONVENTIONAL_BATCHES through the conventional handler with real boto3 clients, counting every DynamoDB
request by operation (botocore's before-call hook). Bounded: at most DEADLINE_S of wall time per side.
Wall-clock rates here are dominated by the emulator's per-request latency, so the ratio is mostly the
ratio of DynamoDB round trips.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import orjson

from infra.local.emulator import start_emulator
from pipeline import constants as c
from pipeline.aws_stores import aws_stores
from pipeline.config import load_config
from pipeline.processor import BatchProcessor
from tests.benchmarks.conventional_handler import ConventionalHandler
from tests.benchmarks.workload import cdr_units, realistic_batches
from tests.functional.test_handler_emulator import Pipeline
from tests.unit.pipeline_events import NOW_MS

BATCHES = 6
CONVENTIONAL_BATCHES = 2
DEADLINE_S = 120.0
FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def count_requests(client: Any, counts: Counter[str]) -> None:
    def before_call(model: Any, **_: Any) -> None:
        counts[model.name] += 1

    client.meta.events.register("before-call.*.*", before_call)


def run_ours(batches: list[dict[str, Any]], env: dict[str, str]) -> tuple[int, float, float, Counter[str]]:
    config = load_config(env)
    stores = aws_stores(config)
    counts: Counter[str] = Counter()
    count_requests(stores.aggregates.dynamodb, counts)  # type: ignore[attr-defined]
    processor = BatchProcessor(config, stores)
    records, wall_started, cpu_started = 0, time.perf_counter(), time.process_time()
    for batch in batches:
        if time.perf_counter() - wall_started > DEADLINE_S:
            break
        outcome = processor.process(batch, now_ms=NOW_MS)
        assert not outcome.failed_sequence_numbers, "the emulator run should not defer records"
        records += outcome.records_in
    return records, time.perf_counter() - wall_started, time.process_time() - cpu_started, counts


def run_conventional(
    batches: list[dict[str, Any]], env: dict[str, str], endpoint_url: str
) -> tuple[int, float, float, Counter[str]]:
    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint_url)
    counts: Counter[str] = Counter()
    count_requests(dynamodb, counts)
    handler = ConventionalHandler(
        dynamodb,
        boto3.client("kinesis", endpoint_url=endpoint_url),
        env[c.ENV_AGGREGATES_TABLE],
        env[c.ENV_OUTPUT_STREAM],
    )
    records, wall_started, cpu_started = 0, time.perf_counter(), time.process_time()
    for batch in batches:
        if time.perf_counter() - wall_started > DEADLINE_S:
            break
        handler.handle(batch)
        records += cdr_units([batch])
    return records, time.perf_counter() - wall_started, time.process_time() - cpu_started, counts


def run() -> dict[str, Any]:
    batches = realistic_batches(BATCHES)
    saved = {name: os.environ.get(name) for name in (*FAKE_AWS_ENV, "AWS_ENDPOINT_URL")}
    with tempfile.TemporaryDirectory(prefix="cdrcap-bench-") as tmp:
        emulator = start_emulator(log_dir=Path(tmp))
        try:
            os.environ.update(FAKE_AWS_ENV)
            os.environ["AWS_ENDPOINT_URL"] = emulator.endpoint_url
            session = boto3.Session(
                aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
            )
            env = Pipeline(session, emulator.endpoint_url).env  # the functional tests' resources
            ours = run_ours(batches, env)
            # It ADDs into the same items as ours, which changes nothing about its requests or latency.
            theirs = run_conventional(batches[:CONVENTIONAL_BATCHES], env, emulator.endpoint_url)
        finally:
            emulator.stop()
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
    ours_rate, theirs_rate = ours[0] / ours[1], theirs[0] / theirs[1]
    ours_requests = sum(ours[3].values()) * 1000 / ours[0]
    theirs_requests = sum(theirs[3].values()) * 1000 / theirs[0]
    return {
        "title": "Handler against the embedded emulator (MiniStack on loopback): ours vs conventional",
        "metrics": [
            {"name": "ours: records per wall-second", "value": round(ours_rate), "unit": "records/s"},
            {
                "name": "conventional: records per wall-second",
                "value": round(theirs_rate),
                "unit": "records/s",
            },
            {"name": "ours / conventional (wall)", "value": round(ours_rate / theirs_rate, 1), "unit": "x"},
            {
                "name": "ours: wall ms per 500-record batch",
                "value": round(ours[1] * 1000 / len(batches), 1),
                "unit": "ms",
            },
            {"name": "ours: client CPU share of wall time", "value": round(ours[2] / ours[1], 2), "unit": ""},
            {
                "name": "DynamoDB requests per 1,000 CDRs: ours",
                "value": round(ours_requests, 1),
                "unit": "requests",
            },
            {
                "name": "DynamoDB requests per 1,000 CDRs: conventional",
                "value": round(theirs_requests),
                "unit": "requests",
            },
        ],
        "ours": f"{ours[0]:,} CDRs in {len(batches)} batches, {ours[1]:.1f} s wall; requests {dict(ours[3])}",
        "conventional": f"{theirs[0]:,} CDRs in {CONVENTIONAL_BATCHES} batches, {theirs[1]:.1f} s wall; "
        f"requests {dict(theirs[3])}",
        "notes": "MiniStack 1.5.33 answers each request in a few ms on loopback; real DynamoDB adds network "
        "latency per request, which widens the gap further for the per-record UpdateItem handler.",
    }


if __name__ == "__main__":
    print(orjson.dumps(run(), option=orjson.OPT_INDENT_2).decode())
