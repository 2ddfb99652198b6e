"""The handler accepts 3GPP BER CDRs, bare and in 32.297 chunks, beside JSON in the same batch."""

from __future__ import annotations

from typing import Any

from loadgen.ber import encode_file, encode_record
from pipeline.config import load_config
from pipeline.processor import BatchOutcome, BatchProcessor
from pipeline.schema import ReasonCode
from pipeline.stores import InMemoryDeadLetterQueue, Stores, in_memory_stores
from tests.support.pipeline_events import (
    NOW_MS,
    PIPELINE_ENV,
    as_json,
    ber_call_fields,
    kinesis_event,
    make_cdr,
)

CONFIG = load_config({**PIPELINE_ENV, "CDRCAP_HOME_REGION": "IN"})
HOUR_AGO_MS = NOW_MS - 3_600_000


def call(reference: str, record_type: str = "MOC") -> dict[str, Any]:
    return ber_call_fields(reference, HOUR_AGO_MS, record_type)


def run(stores: Stores, payloads: list[bytes]) -> BatchOutcome:
    return BatchProcessor(CONFIG, stores).process(kinesis_event(payloads), now_ms=NOW_MS)


def test_bare_ber_cdr_is_aggregated_beside_json() -> None:
    # Given a batch with one JSON CDR and one bare BER MO call
    stores = in_memory_stores()
    # When processed
    outcome = run(stores, [as_json(make_cdr(1)), encode_record(call("0001"))])
    # Then both are applied and nothing is rejected
    assert (outcome.applied, dict(outcome.rejected)) == (2, {})


def test_chunk_with_a_corrupt_cdr_rejects_only_that_cdr() -> None:
    # Given a 32.297 chunk of three CDRs whose middle one is corrupt
    corrupt = bytes.fromhex("a003800500")
    chunk = encode_file([(encode_record(call("0002")), 6), (corrupt, 6), (encode_record(call("0003")), 6)])
    stores = in_memory_stores()
    # When processed
    outcome = run(stores, [chunk])
    # Then the two good CDRs are applied and the corrupt one is in the DLQ with its reason
    assert outcome.records_in == 3
    assert outcome.applied == 2
    assert dict(outcome.rejected) == {ReasonCode.BER_DECODE_ERROR: 1}
    assert isinstance(stores.dlq, InMemoryDeadLetterQueue)
    assert len(stores.dlq.messages) == 1


def test_redelivered_chunk_does_not_double_count() -> None:
    # Given a chunk already processed once
    chunk = encode_file([(encode_record(call("0004")), 6), (encode_record(call("0005", "MTC")), 6)])
    stores = in_memory_stores()
    first = run(stores, [chunk])
    # When the same Kinesis record is delivered again
    again = run(stores, [chunk])
    # Then the second delivery is recognised as a replay of both CDRs
    assert (first.applied, again.applied, again.replayed) == (2, 0, 2)
