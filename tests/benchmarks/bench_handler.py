"""CPU cost of the handler with in-memory stores: records/s on realistic 500-record batches.

`python -m tests.benchmarks.bench_handler` prints the result as JSON (records per CPU second).
Target (issue 10): >= 50,000 records/s per core on this CPU path.
"""

from __future__ import annotations

import random
import time
from typing import Any

import orjson

from pipeline.config import load_config
from pipeline.normalize import normalize_number
from pipeline.processor import BatchProcessor
from pipeline.stores import in_memory_stores
from tests.unit.pipeline_events import NOW_MS, as_csv, as_json, as_kpl, kinesis_event, make_cdr

BATCH_RECORDS = 500
BATCHES = 40
REPEATS = 3
SUBSCRIBERS = 5_000
DESTINATIONS = (
    "+442079460958",
    "+14155552671",
    "+33142685300",
    "+919876543210",
    "+4930123456",
    "33669",
    "911",
)
ENV = {
    "CDRCAP_OUTPUT_STREAM": "out",
    "CDRCAP_AGGREGATES_TABLE": "aggregates",
    "CDRCAP_ARCHIVE_BUCKET": "archive",
    "CDRCAP_DLQ_URL": "http://queue",
}


def realistic_batch(rng: random.Random, first: int) -> dict[str, Any]:
    """90% JSON (v1/v2), 8% CSV, 1 KPL aggregate of 10, ~2% bad; numbers drawn from a subscriber pool."""
    payloads: list[bytes] = []
    for k in range(BATCH_RECORDS - 1):
        n = first + k
        cdr = make_cdr(
            n,
            calling_number=f"+1201555{rng.randrange(SUBSCRIBERS):04d}",
            called_number=rng.choice(DESTINATIONS),
            cell_id=rng.randrange(200),
        )
        roll = rng.random()
        if roll < 0.02:
            cdr["duration_s"] = -1
        payloads.append(as_csv(cdr) if roll > 0.92 else as_json(cdr, version=1 + k % 2))
    payloads.append(as_kpl([as_json(make_cdr(first + BATCH_RECORDS + j)) for j in range(10)]))
    return kinesis_event(payloads, first_seq=first)


def run() -> dict[str, Any]:
    rng = random.Random(7)
    batches = [realistic_batch(rng, b * 10_000) for b in range(BATCHES)]
    processor = BatchProcessor(load_config(ENV), in_memory_stores())
    normalize_number.cache_clear()
    cold_records, cold_s = _timed(processor, batches)  # every subscriber number parsed once
    # Re-delivered batches replay (claims exist): fresh fakes per pass so the work is the same.
    # Best of REPEATS: the machine is shared, the minimum is the least disturbed measurement.
    warm_records, warm_s = min(
        (_timed(BatchProcessor(load_config(ENV), in_memory_stores()), batches) for _ in range(REPEATS)),
        key=lambda measured: measured[1],
    )
    return {
        "batch_records": BATCH_RECORDS,
        "batches": BATCHES,
        "subscribers": SUBSCRIBERS,
        "records_per_cpu_s": round(warm_records / warm_s),
        "cpu_ms_per_batch": round(warm_s * 1000 / BATCHES, 2),
        "cold_cache_records_per_cpu_s": round(cold_records / cold_s),
        "number_cache": normalize_number.cache_info()._asdict(),
    }


def _timed(processor: BatchProcessor, batches: list[dict[str, Any]]) -> tuple[int, float]:
    # CPU time of this process, not wall time: "per core" on a machine shared with other work.
    records = 0
    started = time.process_time()
    for batch in batches:
        records += processor.process(batch, now_ms=NOW_MS).records_in
    return records, time.process_time() - started


if __name__ == "__main__":
    print(orjson.dumps(run(), option=orjson.OPT_INDENT_2).decode())
