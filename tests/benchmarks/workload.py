"""The handler benchmarks' shared workload: realistic 500-record Kinesis batches and the handler's env.

Subscribers repeat as in real traffic (a 5,000-number pool, 200 cells, 7 destinations incl. a short
code and 911); 90 % JSON v1/v2, 8 % CSV, one KPL aggregate of 10 CDRs per batch, ~2 % rejects.
"""

from __future__ import annotations

import random
from typing import Any

from pipeline.events import expand
from tests.support.pipeline_events import PIPELINE_ENV, as_csv, as_json, as_kpl, kinesis_event, make_cdr

BATCH_RECORDS = 500
SUBSCRIBERS = 5_000
CELLS = 200
DESTINATIONS = (
    "+442079460958",
    "+14155552671",
    "+33142685300",
    "+919876543210",
    "+4930123456",
    "33669",
    "911",
)
ENV = PIPELINE_ENV


def realistic_batch(rng: random.Random, first: int) -> dict[str, Any]:
    """One Kinesis event of BATCH_RECORDS records (the last a KPL aggregate of 10 CDRs)."""
    payloads: list[bytes] = []
    for k in range(BATCH_RECORDS - 1):
        n = first + k
        cdr = make_cdr(
            n,
            calling_number=f"+1201555{rng.randrange(SUBSCRIBERS):04d}",
            called_number=rng.choice(DESTINATIONS),
            cell_id=rng.randrange(CELLS),
        )
        roll = rng.random()
        if roll < 0.02:
            cdr["duration_s"] = -1
        payloads.append(as_csv(cdr) if roll > 0.92 else as_json(cdr, version=1 + k % 2))
    payloads.append(as_kpl([as_json(make_cdr(first + BATCH_RECORDS + j)) for j in range(10)]))
    return kinesis_event(payloads, first_seq=first)


def realistic_batches(count: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [realistic_batch(rng, b * 10_000) for b in range(count)]


def cdr_units(batches: list[dict[str, Any]]) -> int:
    """CDRs in `batches`, KPL sub-records counted one each (what "records" means in every rate)."""
    return sum(len(expand(batch)) for batch in batches)
