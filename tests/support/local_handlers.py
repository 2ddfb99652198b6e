"""Tiny Lambda handlers for the local-runtime tests; they log what they saw to $CDRCAP_TEST_OUT.

Each invocation appends one JSON line (one write, O_APPEND) so lines from several worker processes do not
interleave.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import time
from pathlib import Path
from typing import Any

OUT_ENV = "CDRCAP_TEST_OUT"


def _log(event: dict[str, Any], **extra: Any) -> None:
    records = event["Records"]
    line = {
        "pid": os.getpid(),
        "time": time.time(),
        "sequence_numbers": [r["kinesis"]["sequenceNumber"] for r in records],
        "partition_keys": [r["kinesis"]["partitionKey"] for r in records],
        "data": [base64.b64decode(r["kinesis"]["data"]).decode("utf-8", "replace")[:64] for r in records],
        **extra,
    }
    descriptor = os.open(
        Path(os.environ[OUT_ENV]) / "invocations.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT
    )
    try:
        os.write(descriptor, (json.dumps(line) + "\n").encode())
    finally:
        os.close(descriptor)


def record(event: dict[str, Any], context: Any) -> dict[str, Any]:
    print(json.dumps({"records": len(event["Records"])}))  # as the pipeline prints its EMF line
    _log(event)  # after the print, so a test that saw this line also finds the printed one
    return {"batchItemFailures": []}


def record_slowly(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Varying durations so lanes overtake each other (the ordering test must hold anyway)."""
    time.sleep(0.01 * (hash(event["Records"][0]["kinesis"]["sequenceNumber"]) % 5))
    _log(event)
    return {"batchItemFailures": []}


def fail_on_bad(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """An unhandled error whenever a record's data starts with "bad"."""
    _log(event)
    if any(base64.b64decode(r["kinesis"]["data"]).startswith(b"bad") for r in event["Records"]):
        raise ValueError("bad record in batch")
    return {"batchItemFailures": []}


def always_fail(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _log(event)
    raise RuntimeError("this function always fails")


def flaky_once(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Reports a "flaky" record as failed the first time it sees it, then succeeds."""
    _log(event)
    failures = []
    for entry in event["Records"]:
        kinesis = entry["kinesis"]
        if base64.b64decode(kinesis["data"]).startswith(b"flaky"):
            marker = Path(os.environ[OUT_ENV]) / f"seen-{kinesis['sequenceNumber']}"
            try:
                os.close(os.open(marker, os.O_CREAT | os.O_EXCL))
                failures.append({"itemIdentifier": kinesis["sequenceNumber"]})
            except FileExistsError:
                pass
    return {"batchItemFailures": failures}


def noop(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The trivial handler for throughput benchmarks: decodes the data, nothing else."""
    for entry in event["Records"]:
        base64.b64decode(entry["kinesis"]["data"])
    return {"batchItemFailures": []}


def crash_once(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Kills its own process the first time it runs (as an OOM kill would), then records normally."""
    marker = Path(os.environ[OUT_ENV]) / "crashed"
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        _log(event)
        return {"batchItemFailures": []}
    os._exit(137)


def hang(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Runs far past any test's function timeout, swallowing ordinary exceptions as sloppy code does."""
    _log(event)
    with contextlib.suppress(Exception):
        time.sleep(60)
    return {"batchItemFailures": []}


BURN_CPU_S = 0.3


def burn_cpu(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Spin until the process has used BURN_CPU_S of CPU; log the wall time that took (the CPU share)."""
    cpu_start, wall_start = time.process_time(), time.monotonic()
    while time.process_time() - cpu_start < BURN_CPU_S:
        pass
    _log(event, cpu_s=time.process_time() - cpu_start, wall_s=time.monotonic() - wall_start)
    return {"batchItemFailures": []}
