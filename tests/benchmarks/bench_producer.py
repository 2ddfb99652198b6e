"""Producer throughput against the embedded emulator (MiniStack, loopback): records/s accepted by
PutRecords from one process, 500-record calls, with the full accounting on.

Run: `python -m tests.benchmarks.bench_producer` (needs `make emulator`).
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

from infra.aws import Target, client
from infra.local.emulator import start_emulator
from loadgen.producer import KinesisProducer
from loadgen.synth import CdrSynthesizer, SynthConfig

STREAM = "bench-cdr-in"
RECORDS = 40_000
CALL_RECORDS = 500


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as log_dir:
        emulator = start_emulator(log_dir=Path(log_dir))
        try:
            target = Target(name="local", endpoint_url=emulator.endpoint_url, is_local=True,
                            allowed_streams=(STREAM,))  # fmt: skip
            kinesis = client(target, "kinesis")
            kinesis.create_stream(StreamName=STREAM, ShardCount=4)
            kinesis.get_waiter("stream_exists").wait(StreamName=STREAM, WaiterConfig={"Delay": 0.2})
            synth = CdrSynthesizer(SynthConfig(subscribers=100_000), seed=1)
            batches = [synth.batch_with_keys(CALL_RECORDS) for _ in range(RECORDS // CALL_RECORDS)]
            producer = KinesisProducer(target, STREAM)
            start = time.perf_counter()
            for batch in batches:
                producer.put(batch.payloads, batch.partition_keys)
            elapsed = time.perf_counter() - start
            totals = producer.totals
            return {
                "title": "Kinesis producer (loadgen.producer) into MiniStack, one process",
                "metrics": [
                    {
                        "name": "accepted",
                        "value": float(round(totals.accepted / elapsed)),
                        "unit": "records/s",
                    },
                    {
                        "name": "accepted",
                        "value": round(totals.accepted_bytes / elapsed / 2**20, 2),
                        "unit": "MiB/s",
                    },
                ],
                "records": totals.offered,
                "dropped": totals.dropped,
                "call_records": CALL_RECORDS,
                "notes": "Sequential 500-record PutRecords calls with the full per-record accounting; "
                "the emulator is the bottleneck, not the producer.",
            }
        finally:
            emulator.stop()


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
