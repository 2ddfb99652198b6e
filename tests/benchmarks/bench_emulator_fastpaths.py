"""MiniStack as shipped vs with infra/local/ministack_fastpaths.py, side by side in one run.

Two emulators, one after the other, with the same work: (1) Kinesis: STREAM_RECORDS records put in
500-record calls into a 4-shard stream, timing the first and the last PUT_SAMPLE calls (as shipped, every
call re-filters every stored record, so calls get slower as the stream fills), then GetRecords calls on
the full stream; (2) DynamoDB: the real handler with its AWS stores and the fraud rules on over HANDLER
batches of realistic records. The emulator's own CPU seconds (psutil) per record are the measure: wall
time on this shared machine is noisy, the emulator's CPU is what limits the local stack.
"""

from __future__ import annotations

import statistics
import time
from contextlib import AbstractContextManager
from typing import Any

import boto3
import psutil

from infra.local.emulator import ENV_FASTPATHS, EmulatorProcess
from pipeline import constants as c
from tests.benchmarks.bench_handler_emulator import run_ours, small_batches
from tests.benchmarks.emulator_setup import emulator_process, fraud_env
from tests.benchmarks.workload import realistic_batches
from tests.support.emulator_pipeline import Pipeline

STREAM_RECORDS = 60_000
PUT_SAMPLE = 10  # calls timed at the start and at the end of the fill
GET_CALLS = 40
HANDLER_BATCHES = 8
HANDLER_BATCH_RECORDS = 250
RECORD = b'{"schema_version":1,"record_type":"MOC"' + b" " * 440 + b"}"  # about one wire CDR


def emulator(fastpaths: bool) -> AbstractContextManager[EmulatorProcess]:
    return emulator_process({ENV_FASTPATHS: "1" if fastpaths else "0"})


def cpu_s(process: EmulatorProcess) -> float:
    times = psutil.Process(process.pid).cpu_times()
    return float(times.user + times.system)


def kinesis_fill(process: EmulatorProcess) -> dict[str, float]:
    kinesis = boto3.client("kinesis", endpoint_url=process.endpoint_url)
    kinesis.create_stream(StreamName="fill", ShardCount=4)
    kinesis.get_waiter("stream_exists").wait(StreamName="fill", WaiterConfig={"Delay": 0.2})
    calls = STREAM_RECORDS // 500
    latencies_ms: list[float] = []
    cpu_before = cpu_s(process)
    for call in range(calls):
        records = [{"Data": RECORD, "PartitionKey": f"k{call}-{i}"} for i in range(500)]
        started = time.perf_counter()
        kinesis.put_records(StreamName="fill", Records=records)
        latencies_ms.append((time.perf_counter() - started) * 1000)
    put_cpu_s = cpu_s(process) - cpu_before
    shard = kinesis.list_shards(StreamName="fill")["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(StreamName="fill", ShardId=shard, ShardIteratorType="LATEST")
    token = iterator["ShardIterator"]
    get_ms: list[float] = []
    for _ in range(GET_CALLS):  # caught up: each call returns nothing, as a poller's idle calls do
        started = time.perf_counter()
        token = kinesis.get_records(ShardIterator=token)["NextShardIterator"]
        get_ms.append((time.perf_counter() - started) * 1000)
    return {
        "put_first_ms": statistics.median(latencies_ms[:PUT_SAMPLE]),
        "put_last_ms": statistics.median(latencies_ms[-PUT_SAMPLE:]),
        "put_cpu_ms_per_1000_records": put_cpu_s * 1000 / STREAM_RECORDS * 1000,
        "get_empty_ms": statistics.median(get_ms),
    }


def handler_run(process: EmulatorProcess) -> dict[str, float]:
    session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
    resources = Pipeline(session, process.endpoint_url)
    batches = small_batches(realistic_batches(5), HANDLER_BATCH_RECORDS, HANDLER_BATCHES)
    env = fraud_env(resources.env, resources, session, "transact")
    cpu_before = cpu_s(process)
    records, wall_s, _, _, _ = run_ours(batches, env)
    return {
        "handler_emulator_cpu_ms_per_record": (cpu_s(process) - cpu_before) * 1000 / records,
        "handler_wall_ms_per_batch": wall_s * 1000 / len(batches),
    }


def run() -> dict[str, Any]:
    results: dict[str, dict[str, float]] = {}
    for name, fastpaths in (("shipped", False), ("patched", True)):
        with emulator(fastpaths) as process:
            results[name] = {**kinesis_fill(process), **handler_run(process)}
    shipped, patched = results["shipped"], results["patched"]

    def row(key: str, label: str, unit: str) -> list[dict[str, Any]]:
        return [
            {"name": f"{label}: as shipped", "value": round(shipped[key], 3), "unit": unit},
            {"name": f"{label}: patched", "value": round(patched[key], 3), "unit": unit},
            {
                "name": f"{label}: shipped / patched",
                "value": round(shipped[key] / patched[key], 2),
                "unit": "x",
            },
        ]

    return {
        "title": "Emulator fast paths: MiniStack 1.5.33 as shipped vs patched, same work, one run",
        "metrics": [
            *row("put_first_ms", "PutRecords (500) latency, empty stream", "ms"),
            *row("put_last_ms", f"PutRecords (500) latency, stream holding {STREAM_RECORDS:,}", "ms"),
            *row("put_cpu_ms_per_1000_records", "emulator CPU per 1,000 records put", "ms"),
            *row("get_empty_ms", f"GetRecords (caught up) latency, stream holding {STREAM_RECORDS:,}", "ms"),
            *row("handler_emulator_cpu_ms_per_record", "real handler, fraud on: emulator CPU per CDR", "ms"),
            *row(
                "handler_wall_ms_per_batch",
                f"real handler: wall per {HANDLER_BATCH_RECORDS}-record batch",
                "ms",
            ),
        ],
        "notes": (
            f"Fraud state writes: {c.FRAUD_STATE_WRITE_MODES[0]}. The as-shipped PutRecords and GetRecords "
            "latencies grow with every record the stream holds (a full scan per request); patched they do "
            "not."
        ),
    }
