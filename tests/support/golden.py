"""Digests of every output of a BatchProcessor run: what the golden tests of the input paths (mapped layouts,
Avro) pin byte for byte."""

from __future__ import annotations

import hashlib

import orjson

from pipeline.processor import BatchProcessor
from pipeline.stores import (
    InMemoryAggregateStore,
    InMemoryDeadLetterQueue,
    InMemoryOutputStream,
    Stores,
)
from tests.support.pipeline_events import NOW_MS, kinesis_event

BATCH = 250


def batch_output_digests(processor: BatchProcessor, stores: Stores, records: list[bytes]) -> dict[str, str]:
    """Process `records` in batches of 250 with in-memory `stores`; the digest of each output kind."""
    outcomes = [
        processor.process(kinesis_event(records[first : first + BATCH], first_seq=first), now_ms=NOW_MS)
        for first in range(0, len(records), BATCH)
    ]
    output, dlq = stores.output, stores.dlq
    assert isinstance(output, InMemoryOutputStream) and isinstance(dlq, InMemoryDeadLetterQueue)
    assert isinstance(stores.aggregates, InMemoryAggregateStore)
    parts = {
        "outcomes": repr(
            [(o.records_in, o.applied, sorted(o.rejected.items()), o.dynamo_writes) for o in outcomes]
        ).encode(),
        "output": orjson.dumps([[key, data.decode()] for key, data in output.records]),
        "dlq": b"\n".join(dlq.messages),
        "aggregates": repr(sorted(stores.aggregates.snapshot().items())).encode(),
    }
    return {name: hashlib.sha256(data).hexdigest()[:16] for name, data in parts.items()}
