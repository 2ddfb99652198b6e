"""Every output of the handler's CPU path, byte for byte, on a fixed workload: the guard of its speed-ups.

The workload is shaped like the benchmark's (tests/benchmarks/workload.py: repeating subscribers and cells,
JSON v1/v2, CSV, a KPL aggregate, ~2 % negative durations), plus one batch of every case of the malformed
corpus between good records, under every CDRCAP_EXACTLY_ONCE design. The digests were taken before the
issue-21 speed-ups (main at ea40aaf); a change of any output byte, reason code, DLQ body, aggregate,
claim or outcome count changes them. An intended change of an output must update them, saying why.
"""

from __future__ import annotations

import hashlib
import random
from typing import Any

import orjson
import pytest

from pipeline.constants import EXACTLY_ONCE_DESIGNS
from pipeline.processor import BatchOutcome, BatchProcessor
from pipeline.stores import (
    InMemoryAggregateStore,
    InMemoryArchive,
    InMemoryDeadLetterQueue,
    InMemoryLedgerStore,
    InMemoryOutputStream,
    Stores,
    in_memory_stores,
)
from tests.corpus.malformed import cases
from tests.support.pipeline_events import (
    NOW_MS,
    PIPELINE_CONFIG,
    as_csv,
    as_json,
    as_kpl,
    kinesis_event,
    make_cdr,
)

DESTINATIONS = (
    "+442079460958",
    "+14155552671",
    "+33142685300",
    "+919876543210",
    "+4930123456",
    "33669",
    "911",
)
BATCH_RECORDS = 500


def realistic_event(rng: random.Random, first: int) -> dict[str, Any]:
    payloads: list[bytes] = []
    for k in range(BATCH_RECORDS - 1):
        cdr = make_cdr(
            first + k,
            calling_number=f"+1201555{rng.randrange(5000):04d}",
            called_number=rng.choice(DESTINATIONS),
            cell_id=rng.randrange(200),
        )
        roll = rng.random()
        if roll < 0.02:
            cdr["duration_s"] = -1
        payloads.append(as_csv(cdr) if roll > 0.92 else as_json(cdr, version=1 + k % 2))
    payloads.append(as_kpl([as_json(make_cdr(first + BATCH_RECORDS + j)) for j in range(10)]))
    event = kinesis_event(payloads, first_seq=first)
    for k, record in enumerate(event["Records"]):  # arrivals 1 ms apart: ledger's claims buckets vary
        record["kinesis"]["approximateArrivalTimestamp"] = (NOW_MS - 60_000 + first + k) / 1000
    return event


def corpus_event(first: int) -> dict[str, Any]:
    """Every malformed case between good records (a duplicate cdr_id among them)."""
    payloads: list[bytes] = []
    raw: dict[int, str] = {}
    for k, case in enumerate(cases()):
        payloads.append(as_json(make_cdr(first + k), version=1 + k % 2))
        if case.raw_data is not None:
            raw[len(payloads)] = case.raw_data
        payloads.append(case.payload)
    payloads.append(payloads[0])
    event = kinesis_event(payloads, first_seq=first)
    for index, data in raw.items():
        event["Records"][index]["kinesis"]["data"] = data
    return event


def events() -> list[dict[str, Any]]:
    rng = random.Random(7)
    realistic = [realistic_event(rng, b * 10_000) for b in range(4)]
    # the first batch again: every record a replay
    return [*realistic, corpus_event(100_000), realistic[0]]


def _outcome(outcome: BatchOutcome) -> list[Any]:
    return [
        outcome.records_in,
        outcome.applied,
        outcome.replayed,
        sorted(outcome.rejected.items()),
        outcome.deferred,
        outcome.failed_sequence_numbers,
        outcome.dynamo_writes,
        outcome.dynamo_write_requests,
        outcome.dynamo_write_units,
        outcome.dynamo_hottest_item_writes,
        outcome.notices,
    ]


def digests(design: str) -> dict[str, str]:
    stores: Stores = in_memory_stores(design)
    processor = BatchProcessor(PIPELINE_CONFIG, stores)
    outcomes = [_outcome(processor.process(event, now_ms=NOW_MS)) for event in events()]
    aggregates = stores.aggregates
    if isinstance(aggregates, InMemoryLedgerStore):
        claims: Any = [sorted(aggregates.bucket_blobs.items()), sorted(aggregates.delta_items.items())]
    else:
        assert isinstance(aggregates, InMemoryAggregateStore)
        claims = [sorted(aggregates.claims.items()), sorted(aggregates.folded_per_item.items())]
    output, archive, dlq = stores.output, stores.archive, stores.dlq
    assert isinstance(output, InMemoryOutputStream) and isinstance(archive, InMemoryArchive)
    assert isinstance(dlq, InMemoryDeadLetterQueue)
    parts = {
        "outcomes": orjson.dumps(outcomes),
        "output": orjson.dumps([[key, data.decode()] for key, data in output.records]),
        "archive": b"".join(key.encode() + body for key, body in sorted(archive.objects.items())),
        "dlq": b"\n".join(dlq.messages),
        "aggregates": orjson.dumps(sorted(aggregates.snapshot().items())),
        "claims": repr(claims).encode(),
    }
    return {name: hashlib.sha256(data).hexdigest()[:16] for name, data in parts.items()}


GOLDEN: dict[str, dict[str, str]] = {
    "per_record": {
        "outcomes": "d2d32d7332c5c298",
        "output": "d0e626d67c676e75",
        "archive": "95489b80c9e14584",
        "dlq": "0dcf9a6ff1085774",
        "aggregates": "527752366d438c25",
        "claims": "0da3c8d87d461bba",
    },
    "folded": {
        "outcomes": "e3e909e72e9a60e2",
        "output": "d0e626d67c676e75",
        "archive": "95489b80c9e14584",
        "dlq": "0dcf9a6ff1085774",
        "aggregates": "527752366d438c25",
        "claims": "2f28952fc320e5f7",
    },
    "ledger": {
        "outcomes": "0f56e9df5b27b22f",
        "output": "d0e626d67c676e75",
        "archive": "95489b80c9e14584",
        "dlq": "0dcf9a6ff1085774",
        "aggregates": "527752366d438c25",
        "claims": "b7aabe20254f744d",
    },
}


@pytest.mark.parametrize("design", EXACTLY_ONCE_DESIGNS)
def test_every_output_is_byte_identical_to_the_golden_run(design: str) -> None:
    assert digests(design) == GOLDEN[design]
