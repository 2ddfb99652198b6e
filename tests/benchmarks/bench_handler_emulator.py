"""The same batches against the embedded emulator: ours (AWS stores) vs the conventional handler.

Starts its own MiniStack on a free loopback port (stopped at the end), creates the stack's table, output
stream, bucket and queue, and runs BATCHES batches through our handler's real AWS stores and
CONVENTIONAL_BATCHES through the conventional handler with real boto3 clients, counting every DynamoDB
request by operation (botocore's before-call hook). Bounded: at most DEADLINE_S of wall time per side.
Wall-clock rates here are dominated by the emulator's per-request latency, so the ratio is mostly the
ratio of DynamoDB round trips.

Then the same records with the fraud rules on (alert bus + token key), as FRAUD_BATCHES events of
FRAUD_BATCH_RECORDS, once per CDRCAP_FRAUD_STATE_WRITES mode ("item": one UpdateItem per window item,
"transact": 100-item transactions), each on a fresh table: DynamoDB requests and wall ms per batch.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import boto3
import orjson

from pipeline import constants as c
from tests.benchmarks.conventional_handler import ConventionalHandler
from tests.benchmarks.emulator_setup import count_requests, counted_processor, emulator_pipeline, fraud_env
from tests.benchmarks.workload import cdr_units, realistic_batches
from tests.support.pipeline_events import NOW_MS

BATCHES = 6
FRAUD_BATCH_RECORDS = 100  # the batch size the fraud write cost was first measured at
FRAUD_BATCHES = 10
WRITE_OPERATIONS = ("UpdateItem", "TransactWriteItems", "PutItem", "DeleteItem", "BatchWriteItem")
CONVENTIONAL_BATCHES = 2
DEADLINE_S = 120.0


def run_ours(
    batches: list[dict[str, Any]], env: dict[str, str]
) -> tuple[int, float, float, Counter[str], int]:
    """Our handler (fraud rules on when `env` names an alert bus): records, wall s, CPU s, DynamoDB
    requests by operation, fraud alerts."""
    processor, counts = counted_processor(env)
    records, alerts, wall_started, cpu_started = 0, 0, time.perf_counter(), time.process_time()
    for batch in batches:
        if time.perf_counter() - wall_started > DEADLINE_S:
            break
        outcome = processor.process(batch, now_ms=NOW_MS)
        assert not outcome.failed_sequence_numbers, "the emulator run should not defer records"
        records += outcome.records_in
        alerts += outcome.fraud_alerts
    wall_s, cpu_s = time.perf_counter() - wall_started, time.process_time() - cpu_started
    return records, wall_s, cpu_s, counts, alerts


def small_batches(batches: list[dict[str, Any]], records: int, count: int) -> list[dict[str, Any]]:
    """The same Kinesis records re-cut into events of `records`."""
    flat = [record for batch in batches for record in batch["Records"]]
    return [{"Records": flat[i : i + records]} for i in range(0, records * count, records)]


def fraud_metrics(
    mode: str, result: tuple[int, float, float, Counter[str], int], batches: int
) -> list[dict[str, Any]]:
    records, wall_s, _, counts, _ = result
    writes = sum(counts[op] for op in WRITE_OPERATIONS)
    per_batch = FRAUD_BATCH_RECORDS / records  # batches of FRAUD_BATCH_RECORDS records
    return [
        {
            "name": f"fraud on, {mode}: DynamoDB write requests per {FRAUD_BATCH_RECORDS}-record batch",
            "value": round(writes * per_batch, 1),
            "unit": "requests",
        },
        {
            "name": f"fraud on, {mode}: DynamoDB requests per {FRAUD_BATCH_RECORDS}-record batch",
            "value": round(sum(counts.values()) * per_batch, 1),
            "unit": "requests",
        },
        {
            "name": f"fraud on, {mode}: wall ms per {FRAUD_BATCH_RECORDS}-record batch",
            "value": round(wall_s * 1000 / batches, 1),
            "unit": "ms",
        },
    ]


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
    with emulator_pipeline() as (session, resources, endpoint_url):
        env = resources.env
        ours = run_ours(batches, env)
        # It ADDs into the same items as ours, which changes nothing about its requests or latency.
        theirs = run_conventional(batches[:CONVENTIONAL_BATCHES], env, endpoint_url)
        fraud_batches = small_batches(batches, FRAUD_BATCH_RECORDS, FRAUD_BATCHES)
        fraud = {
            mode: run_ours(fraud_batches, fraud_env(env, resources, session, mode))
            for mode in c.FRAUD_STATE_WRITE_MODES
        }
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
            *[m for mode, result in fraud.items() for m in fraud_metrics(mode, result, FRAUD_BATCHES)],
        ],
        "fraud": {
            mode: f"{r[0]:,} CDRs in {FRAUD_BATCHES} batches, {r[1]:.1f} s wall, {r[4]} alerts; "
            f"requests {dict(r[3])}"
            for mode, r in fraud.items()
        },
        "ours": f"{ours[0]:,} CDRs in {len(batches)} batches, {ours[1]:.1f} s wall; requests {dict(ours[3])}",
        "conventional": f"{theirs[0]:,} CDRs in {CONVENTIONAL_BATCHES} batches, {theirs[1]:.1f} s wall; "
        f"requests {dict(theirs[3])}",
        "notes": "MiniStack 1.5.33 answers each request in a few ms on loopback; real DynamoDB adds network "
        "latency per request, which widens the gap further for the per-record UpdateItem handler.",
    }


if __name__ == "__main__":
    print(orjson.dumps(run(), option=orjson.OPT_INDENT_2).decode())
