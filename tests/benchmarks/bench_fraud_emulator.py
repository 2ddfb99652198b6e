"""The fraud stage's DynamoDB cost on the emulator, per record: the real handler's BatchProcessor with its AWS
stores, fed bench_local_e2e's load without the stack around it.

The records are bench_soak's producer's (10,000 subscribers, one partition key per record, 2 % malformed,
all seized in the same minute, so every subscriber crosses the velocity and simultaneous thresholds after
4-10 records: alert claims and previous-window reads dominate the second half), spread over 4 shards by
partition key and cut into events of BATCH records. Measured: this process's CPU (the handler's work:
decode to alerts, botocore included) and the emulator's CPU, per record, with the fraud stage on and off,
and the DynamoDB requests per batch. CPU per record is what bounds the local stack (docs/local.md);
CDRCAP_FRAUD_EMU_RECORDS sets the load (default 60,000; the claims start after 40,000).
"""

from __future__ import annotations

import os
import time
import zlib
from typing import Any

import psutil

from pipeline import constants as c
from tests.benchmarks.bench_soak import HANDLER_ENV, Producer
from tests.benchmarks.emulator_setup import counted_processor, emulator_pipeline, fraud_env
from tests.support.pipeline_events import NOW_MS, kinesis_record

LONG = True  # a few minutes: `make bench-long`

SHARDS = 4
BATCH = 500


def events(records: int) -> list[dict[str, Any]]:
    """bench_soak's payloads with their own partition keys, per shard in order, batches interleaved."""
    producer = Producer.__new__(Producer)  # only its payloads: no stack, no ground truth
    producer.next_id = 0
    payloads = producer.payloads(records)
    by_shard: dict[int, list[dict[str, Any]]] = {shard: [] for shard in range(SHARDS)}
    for index, payload in enumerate(payloads):
        key = f"pk-{index}"
        shard = zlib.crc32(key.encode()) % SHARDS
        record = kinesis_record(payload, index, f"shardId-{shard:012d}")
        record["kinesis"]["partitionKey"] = key
        by_shard[shard].append(record)
    batches = [
        shard_records[start : start + BATCH]
        for shard_records in by_shard.values()
        for start in range(0, len(shard_records), BATCH)
    ]
    batches.sort(key=lambda batch: int(batch[0]["kinesis"]["sequenceNumber"]))
    return [{"Records": batch} for batch in batches]


def emulator_cpu_s() -> float:
    """CPU seconds of the emulator this process started (its only MiniStack child)."""
    children = psutil.Process().children(recursive=True)
    return sum(sum(p.cpu_times()[:2]) for p in children if "ministack" in " ".join(p.cmdline()))


def measure(batches: list[dict[str, Any]], fraud_on: bool) -> dict[str, float]:
    with emulator_pipeline() as (session, resources, _):
        env = {**resources.env, **HANDLER_ENV}
        env = fraud_env(env, resources, session, "transact") if fraud_on else {**env, c.ENV_ALERT_BUS: ""}
        processor, counts = counted_processor(env)
        processor.process(batches[0], now_ms=NOW_MS)  # clients built, connections open
        counts.clear()
        me = psutil.Process()
        emulator_before, handler_before, wall_before = emulator_cpu_s(), sum(me.cpu_times()[:2]), time.time()
        records = alerts = 0
        for batch in batches[1:]:
            outcome = processor.process(batch, now_ms=NOW_MS)
            assert not outcome.failed_sequence_numbers, "the emulator run should not defer records"
            records += len(batch["Records"])
            alerts += outcome.fraud_alerts
        return {
            "records": records,
            "alerts": alerts,
            "wall_s": time.time() - wall_before,
            "emulator_ms": (emulator_cpu_s() - emulator_before) * 1000 / records,
            "handler_ms": (sum(me.cpu_times()[:2]) - handler_before) * 1000 / records,
            **{f"requests {op}": n * BATCH / records for op, n in sorted(counts.items())},
        }


def run() -> dict[str, Any]:
    records = int(os.environ.get("CDRCAP_FRAUD_EMU_RECORDS", 60_000))
    batches = events(records)
    results = {fraud_on: measure(batches, fraud_on) for fraud_on in (True, False)}
    metrics: list[dict[str, Any]] = []
    for fraud_on, result in results.items():
        label = "fraud on" if fraud_on else "fraud off"
        metrics += [
            {
                "name": f"{label}: CPU per record, emulator",
                "value": round(result["emulator_ms"], 3),
                "unit": "ms",
            },
            {
                "name": f"{label}: CPU per record, handler",
                "value": round(result["handler_ms"], 3),
                "unit": "ms",
            },
            *[
                {"name": f"{label}: {name} per {BATCH}-record batch", "value": round(value, 1), "unit": ""}
                for name, value in result.items()
                if name.startswith("requests ")
            ],
        ]
    on, off = results[True], results[False]
    metrics.append(
        {
            "name": "fraud stage's share: (on - off) CPU per record, emulator + handler",
            "value": round(on["emulator_ms"] + on["handler_ms"] - off["emulator_ms"] - off["handler_ms"], 3),
            "unit": "ms",
        }
    )
    return {
        "title": f"Fraud stage on the emulator: CPU per record, {records:,} records of the e2e bench's load",
        "metrics": metrics,
        "notes": f"fraud on: {on['alerts']:,.0f} alerts, {on['wall_s']:.0f} s wall; "
        f"fraud off: {off['wall_s']:.0f} s wall; batches of {BATCH} over {SHARDS} shards",
    }
