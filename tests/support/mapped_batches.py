"""One batch of payloads through the in-memory pipeline with input mappings configured, and what it wrote:
shared by the input-mapping tests and the load generator's layout tests."""

from __future__ import annotations

from typing import Any

import orjson

from pipeline.config import load_config
from pipeline.processor import BatchOutcome, BatchProcessor
from pipeline.stores import InMemoryDeadLetterQueue, InMemoryOutputStream, Stores, in_memory_stores
from tests.support.pipeline_events import NOW_MS, PIPELINE_ENV, kinesis_event

ALL = "asterisk_cdr_csv,asterisk_cdr_custom,freeswitch_cdr_csv,freeswitch_json_cdr"


def run(payloads: list[bytes], mappings: str = ALL) -> tuple[BatchOutcome, Stores]:
    stores = in_memory_stores()
    config = load_config({**PIPELINE_ENV, "CDRCAP_INPUT_MAPPINGS": mappings})
    return BatchProcessor(config, stores).process(kinesis_event(payloads), now_ms=NOW_MS), stores


def outputs(stores: Stores) -> list[dict[str, Any]]:
    assert isinstance(stores.output, InMemoryOutputStream)
    return [orjson.loads(line)["cdr"] for _, line in stores.output.records]


def dlq(stores: Stores) -> list[dict[str, Any]]:
    assert isinstance(stores.dlq, InMemoryDeadLetterQueue)
    return [orjson.loads(m) for m in stores.dlq.messages]
