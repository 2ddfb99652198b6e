"""Benchmarks of the local stack: the limits proxy's overhead and the stack's sustained records/s.

`python -m tests.benchmarks.bench_local_stack [--records N --rate R --shards S]`; prints one JSON document.
Bounded: at most `--records` records and `--duration-s` seconds of load, then a drain deadline.
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing
import statistics
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from infra.local import processes
from infra.local.emulator import free_port, start_emulator
from infra.local.stack import LocalStack, LocalStackConfig
from tests.support.local_stack import TEMPLATE

RECORD = b"x" * 200  # about the size of one wire CDR
PUT_BATCH = 500
PRODUCERS = 3
DRAIN_DEADLINE_S = 120.0


def kinesis_client(url: str) -> Any:
    return boto3.client(
        "kinesis",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 1}, max_pool_connections=16),
    )


def put_rate(url: str, stream: str, calls: int, threads: int) -> dict[str, float]:
    """Records/s and per-call latency of PutRecords (500 x 200 B) from `threads` parallel callers."""
    latencies_ms: list[float] = []
    lock = threading.Lock()

    def caller(index: int) -> None:
        client = kinesis_client(url)
        for call in range(calls):
            records = [{"PartitionKey": f"{index}-{call}-{i}", "Data": RECORD} for i in range(PUT_BATCH)]
            started = time.perf_counter()
            client.put_records(StreamName=stream, Records=records)
            with lock:
                latencies_ms.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    workers = [threading.Thread(target=caller, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed_s = time.perf_counter() - started
    return {
        "records_per_s": round(calls * threads * PUT_BATCH / elapsed_s),
        "call_p50_ms": round(statistics.median(latencies_ms), 2),
    }


def proxy_overhead(shards: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as work:
        emulator = start_emulator(log_dir=Path(work))
        try:
            direct = kinesis_client(emulator.endpoint_url)
            direct.create_stream(StreamName="bench", ShardCount=shards)
            time.sleep(0.5)
            # Its own process, as under `cdrcap up`: in this one it would fight the callers for the GIL.
            port = free_port()
            log_path = Path(work) / "proxy.log"
            arguments = ["--upstream", emulator.endpoint_url, "--port", str(port), "--scale", "1000"]
            pid = processes.spawn_module("infra.local.limits_proxy", arguments, log_path=log_path)
            processes.wait_for_port(pid, port, timeout_s=30, log_path=log_path)
            result = {}
            try:
                for threads in (1, 4):
                    result[f"direct_{threads}_callers"] = put_rate(
                        emulator.endpoint_url, "bench", 20, threads
                    )
                    result[f"proxy_{threads}_callers"] = put_rate(
                        f"http://127.0.0.1:{port}", "bench", 20, threads
                    )
            finally:
                processes.stop_pid(pid, timeout_s=10)
            return result
        finally:
            emulator.stop()


def produce(
    url: str, stream: str, index: int, rate_rps: float, records: int, duration_s: float, start_epoch_s: float
) -> tuple[int, int]:
    """One producer process: PutRecords at `rate_rps` from `start_epoch_s`; returns (offered, accepted)."""
    client = kinesis_client(url)
    time.sleep(max(0.0, start_epoch_s - time.time()))
    offered = accepted = 0
    while offered < records and time.time() - start_epoch_s < duration_s:
        due = min(int((time.time() - start_epoch_s) * rate_rps) - offered, PUT_BATCH)
        if due < 1:
            time.sleep(0.005)
            continue
        batch = [{"PartitionKey": f"k{index}-{offered + i}", "Data": RECORD} for i in range(due)]
        response = client.put_records(StreamName=stream, Records=batch)
        offered += due
        accepted += due - response["FailedRecordCount"]
    return offered, accepted


def stack_throughput(
    shards: int, rate_rps: float, records: int, duration_s: float, scale: float
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as work:
        stack = LocalStack(Path(work) / "state")
        info = stack.up(
            LocalStackConfig(
                shards=shards,
                port=free_port(),
                scale=scale,
                batch_size=500,
                template_path=str(TEMPLATE),
                handler="tests.support.local_handlers.noop",
            )
        )
        try:
            started = time.monotonic()
            # Producer processes, each paced to its share: in one process the GIL would cap the offered rate.
            with ProcessPoolExecutor(PRODUCERS, mp_context=multiprocessing.get_context("spawn")) as pool:
                start_epoch_s = time.time() + 2.0  # after the producers have spawned
                shares = [
                    pool.submit(
                        produce,
                        info.kinesis_endpoint_url,
                        info.input_stream_name,
                        index,
                        rate_rps / PRODUCERS,
                        records // PRODUCERS,
                        duration_s,
                        start_epoch_s,
                    )
                    for index in range(PRODUCERS)
                ]
                outcomes = [share.result() for share in shares]
            offered = sum(o[0] for o in outcomes)
            accepted = sum(o[1] for o in outcomes)
            started += 2.0
            load_s = time.monotonic() - started
            trace_path = Path(info.trace_path)
            deadline = time.monotonic() + DRAIN_DEADLINE_S
            rows: list[dict[str, str]] = []
            while time.monotonic() < deadline:
                with open(trace_path, newline="") as handle:
                    rows = list(csv.DictReader(handle))
                if sum(int(r["batch_records"]) for r in rows) >= accepted:
                    break
                time.sleep(0.5)
            processed = sum(int(r["batch_records"]) for r in rows)
            first_ms = min(int(r["start_epoch_ms"]) for r in rows)
            last_ms = max(int(r["end_epoch_ms"]) for r in rows)
            ages = sorted(float(r["iterator_age_ms"]) for r in rows)
            return {
                "shards": shards,
                "scale": scale,
                "target_rps": rate_rps,
                "offered": offered,
                "accepted": accepted,
                "accepted_rps": round(accepted / load_s),
                "processed": processed,
                "processed_rps": round(processed / ((last_ms - first_ms) / 1000)),
                "invocations": len(rows),
                "iterator_age_p99_ms": ages[int(0.99 * (len(ages) - 1))],
                "iterator_age_max_ms": ages[-1],
            }
        finally:
            stack.down()


def run() -> dict[str, Any]:
    """For `make bench`: proxy overhead side by side, then 60,000 records at 3,000/s through 4 shards."""
    overhead = proxy_overhead(shards=4)
    stack = stack_throughput(shards=4, rate_rps=3000.0, records=60_000, duration_s=30.0, scale=1.0)
    ratio_1 = overhead["proxy_1_callers"]["records_per_s"] / overhead["direct_1_callers"]["records_per_s"]
    ratio_4 = overhead["proxy_4_callers"]["records_per_s"] / overhead["direct_4_callers"]["records_per_s"]
    sustained = stack["processed_rps"] >= 3000 * 0.95 and stack["iterator_age_max_ms"] < 5000
    return {
        "title": "Local stack: limits proxy overhead and sustained throughput (trivial handler)",
        "metrics": [
            {
                "name": "PutRecords through proxy / direct, 1 caller",
                "value": round(ratio_1, 2),
                "unit": "ratio",
            },
            {
                "name": "PutRecords through proxy / direct, 4 callers",
                "value": round(ratio_4, 2),
                "unit": "ratio",
            },
            {
                "name": "records/s processed, 4 shards, offered 3,000/s",
                "value": float(stack["processed_rps"]),
                "unit": "records/s",
                "target": ">= 3,000 with iterator age < 5 s",
                "met": sustained,
            },
            {"name": "iterator age max", "value": float(stack["iterator_age_max_ms"]), "unit": "ms"},
        ],
        "proxy_overhead": overhead,
        "stack": stack,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--rate", type=float, default=3000.0)
    parser.add_argument("--records", type=int, default=60_000)
    parser.add_argument("--duration-s", type=float, default=30.0)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--skip-proxy", action="store_true")
    args = parser.parse_args()
    report: dict[str, Any] = {}
    if not args.skip_proxy:
        report["proxy_overhead"] = proxy_overhead(args.shards)
    report["stack"] = stack_throughput(args.shards, args.rate, args.records, args.duration_s, args.scale)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
