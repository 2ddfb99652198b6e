"""The local ESM's cost of reading a GetRecords answer into Lambda event entries: botocore's parser vs the
prepared path (pipeline.prepared_requests.decode_answers: orjson, each record's data kept as the wire's
base64 text), CPU per record on the same 500-record answers, interleaved rounds.

`python -m tests.benchmarks bench_esm_read`. The answers are synthesized the way Kinesis sends them (JSON,
Data base64, ApproximateArrivalTimestamp epoch seconds with milliseconds); the event entries of both paths
are checked byte for byte before timing.
"""

from __future__ import annotations

import base64
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import orjson
from botocore.parsers import create_parser

from infra.local.esm.config import EsmConfig
from infra.local.esm.events import StreamRecord, to_stream_record
from pipeline.prepared_requests import decode_success

RECORDS = 500  # one full batch's GetRecords answer at the bench_local_e2e batch size
RECORD_BYTES = 510  # a JSON v2 CDR
ROUNDS = 5
PASSES = 20
SHARD = "shardId-000000000000"


def answer(seed: int = 7) -> bytes:
    rng = random.Random(seed)
    records = [
        {
            "Data": base64.b64encode(rng.randbytes(RECORD_BYTES - k % 3)).decode("ascii"),
            "PartitionKey": f"4479{rng.randrange(10**8):08d}",
            "SequenceNumber": str(49_650_000_000_000_000_000_000_000_000_000_000_000_000_000_000 + k),
            "ApproximateArrivalTimestamp": round(1_796_324_884.123 + k / 1000, 3),
        }
        for k in range(RECORDS)
    ]
    return orjson.dumps({"Records": records, "NextShardIterator": "it", "MillisBehindLatest": 0})


def readers(config: EsmConfig) -> dict[str, Callable[[bytes], list[StreamRecord]]]:
    client: Any = boto3.client(
        "kinesis", region_name="us-east-1", aws_access_key_id="bench", aws_secret_access_key="bench"
    )
    shape = client.meta.service_model.operation_model("GetRecords").output_shape
    parser = create_parser("json")

    def botocore_parser(body: bytes) -> list[StreamRecord]:
        parsed = parser.parse({"status_code": 200, "headers": {}, "body": body}, shape)
        return [to_stream_record(SHARD, raw, config) for raw in parsed["Records"]]

    def prepared(body: bytes) -> list[StreamRecord]:
        # what botocore does with the before-parse handler's answer: parse the emptied body, merge it in
        response: dict[str, Any] = {"status_code": 200, "headers": {}, "body": body}
        customized: dict[str, Any] = {}
        decode_success(response, customized)
        parsed = parser.parse(response, shape)
        parsed.update(customized)
        return [to_stream_record(SHARD, raw, config) for raw in parsed["Records"]]

    return {"botocore's parser": botocore_parser, "prepared (orjson, base64 kept)": prepared}


def run() -> dict[str, Any]:
    config = EsmConfig(
        stream_name="bench",
        stream_arn="arn:aws:kinesis:us-east-1:000000000000:stream/bench",
        function_name="bench",
        kinesis_endpoint_url="http://127.0.0.1:1",
        endpoint_url="http://127.0.0.1:1",
        state_dir=Path(tempfile.gettempdir()),  # not written: only the event entries are built
    )
    body = answer()
    ways = readers(config)
    entries = {name: [r.event_json for r in read(body)] for name, read in ways.items()}
    first, second = entries.values()
    if first != second:
        raise AssertionError("the two readers built different event entries")
    best = dict.fromkeys(ways, float("inf"))
    for _ in range(ROUNDS):
        for name, read in ways.items():
            started = time.process_time()
            for _ in range(PASSES):
                read(body)
            best[name] = min(best[name], (time.process_time() - started) / PASSES / RECORDS * 1e6)
    slow, fast = best.values()
    return {
        "title": "Local ESM: reading a GetRecords answer into Lambda event entries, CPU per record",
        "metrics": [
            *({"name": name, "value": round(us, 2), "unit": "µs"} for name, us in best.items()),
            {"name": "botocore / prepared", "value": round(slow / fast, 2), "unit": "x"},
        ],
        "notes": (
            f"{RECORDS} records of ~{RECORD_BYTES} B per answer, best of {ROUNDS} interleaved rounds of "
            f"{PASSES} answers each, process CPU time; event entries identical byte for byte."
        ),
    }
