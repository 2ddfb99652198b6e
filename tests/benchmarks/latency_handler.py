"""A trivial handler for latency benchmarks: logs each record's end-to-end latency, does nothing else.

Appends one line per invocation to $CDRCAP_BENCH_OUT/latencies.txt (one write, O_APPEND, so lines from
several worker processes do not interleave): `arrival_epoch_s:latency_ms` per record, space-separated, the
latency measured as the handler returns minus the record's ApproximateArrivalTimestamp (the trace's e2e
definition, per record).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

OUT_ENV = "CDRCAP_BENCH_OUT"
FILE_NAME = "latencies.txt"


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    now_s = time.time()
    arrivals = [float(r["kinesis"]["approximateArrivalTimestamp"]) for r in event["Records"]]
    line = " ".join(f"{arrival:.3f}:{(now_s - arrival) * 1000.0:.1f}" for arrival in arrivals) + "\n"
    descriptor = os.open(Path(os.environ[OUT_ENV]) / FILE_NAME, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(descriptor, line.encode())
    finally:
        os.close(descriptor)
    return {"batchItemFailures": []}


def read_latencies(out_dir: Path) -> list[tuple[float, float]]:
    """(arrival_epoch_s, latency_ms) of every record delivered so far."""
    path = out_dir / FILE_NAME
    if not path.exists():
        return []
    pairs = [token.split(":") for line in path.read_text().splitlines() for token in line.split()]
    return [(float(arrival), float(latency)) for arrival, latency in pairs]
