"""KPL aggregates written by the reference library (aws-kinesis-agg 1.2.3, the awslabs aggregator the KPL's
format is published with) and by our producer (loadgen/kpl.py) come apart in the handler identically: the
same CDRs applied, the same rejects, the same aggregates, outputs and dead letters. And the reference
de-aggregator reads our aggregates as the handler does."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from aws_kinesis_agg.aggregator import RecordAggregator
from aws_kinesis_agg.deaggregator import deaggregate_records

from loadgen.keys import even_shards
from loadgen.kpl import KplPacker, aggregate
from loadgen.synth import CdrSynthesizer, SynthConfig
from pipeline.events import expand
from pipeline.processor import BatchOutcome, BatchProcessor
from pipeline.stores import (
    InMemoryAggregateStore,
    InMemoryDeadLetterQueue,
    InMemoryOutputStream,
    in_memory_stores,
)
from tests.support.pipeline_events import NOW_MS, PIPELINE_CONFIG, kinesis_event

CDRS = 400


@pytest.fixture(scope="module")
def cdrs() -> tuple[list[bytes], list[str]]:
    """A realistic mix (JSON and CSV v1/v2, loadgen's defects, per-subscriber keys) released before NOW_MS."""
    batch = CdrSynthesizer(SynthConfig(subscribers=2_000), seed=11).batch_with_keys(
        CDRS, at_epoch_s=NOW_MS / 1000
    )
    return batch.payloads, batch.partition_keys


def reference_aggregates(payloads: list[bytes], keys: list[str], max_size: int | None = None) -> list[bytes]:
    """What aws-kinesis-agg's RecordAggregator writes for the same user records, in order.

    Keys go in as bytes: given a str key, the library (1.2.x) stores the str in its key table but looks the
    encoded bytes up, so it counts a repeated key's table entry again and cuts an aggregate up to ~7 bytes
    early when a repeat falls at the cut (our packer counts exactly, as the encoded bytes show)."""
    aggregator = RecordAggregator(max_size) if max_size else RecordAggregator()
    out: list[bytes] = []
    for payload, key in zip(payloads, keys, strict=True):
        full = aggregator.add_user_record(key.encode(), payload)
        if full is not None:
            out.append(full.get_contents()[2])
    last = aggregator.clear_and_get()
    if last is not None:
        out.append(last.get_contents()[2])
    return out


def handled(records: list[bytes]) -> dict[str, Any]:
    """Everything the handler's batch processing leaves behind for these Kinesis records."""
    stores = in_memory_stores()
    outcome: BatchOutcome = BatchProcessor(PIPELINE_CONFIG, stores).process(
        kinesis_event(records), now_ms=NOW_MS
    )
    assert isinstance(stores.aggregates, InMemoryAggregateStore)
    assert isinstance(stores.output, InMemoryOutputStream)
    assert isinstance(stores.dlq, InMemoryDeadLetterQueue)
    return {
        "units": outcome.records_in,
        "applied": outcome.applied,
        "rejected": dict(outcome.rejected),
        "failed": outcome.failed_sequence_numbers,
        "aggregates": stores.aggregates.snapshot(),
        "output": sorted(stores.output.records),
        "dead_letters": sorted(stores.dlq.messages),
    }


def test_one_aggregate_of_each_writer_is_handled_identically(cdrs):
    payloads, keys = cdrs
    # Given the same CDRs aggregated by the reference library and by our producer (one aggregate each)
    theirs = reference_aggregates(payloads, keys)
    ours = [aggregate(payloads, keys)]
    assert len(theirs) == 1
    # When the handler processes each
    by_reference, by_ours = handled(theirs), handled(ours)
    # Then every CDR came out and went to the same place, with the same results
    assert by_reference["units"] == by_ours["units"] == CDRS
    assert by_reference["applied"] + sum(by_reference["rejected"].values()) == CDRS
    assert by_reference["applied"] > CDRS // 2 and by_reference["rejected"]  # clean CDRs and defects both
    assert by_reference == by_ours
    # And the two writers agree byte for byte on the format
    assert theirs == ours


def test_aggregates_cut_by_size_are_handled_identically(cdrs):
    payloads, keys = cdrs
    # Given aggregates capped at 16 KiB, by the reference library and by our packer for a one-shard stream
    # (every CDR in one group, in order, as the reference library takes them)
    theirs = reference_aggregates(payloads, keys, max_size=16 * 1024)
    ours = KplPacker(even_shards(1), max_aggregate_bytes=16 * 1024).pack(payloads, keys)
    assert len(theirs) > 5 and sum(ours.cdrs) == CDRS
    # Then both cut at the same CDRs, byte for byte, and the handler's results are the same
    assert ours.payloads == theirs
    assert handled(theirs) == handled(ours.payloads)


def test_the_reference_de_aggregator_reads_our_aggregates_as_the_handler_does(cdrs):
    payloads, keys = cdrs
    ours = KplPacker(None, max_aggregate_bytes=16 * 1024).pack(payloads, keys)
    event = kinesis_event(ours.payloads)
    reference = [
        (record["kinesis"]["partitionKey"], base64.b64decode(record["kinesis"]["data"]))
        for record in deaggregate_records(event["Records"])
    ]
    units = expand(event)
    assert reference == list(zip(units.partition_key, units.payload, strict=True))
    assert sorted(reference) == sorted(zip(keys, payloads, strict=True))


def test_explicit_hash_keys_from_the_reference_library_do_not_change_what_the_handler_reads(cdrs):
    payloads, keys = cdrs
    # Given the reference library's aggregate with an explicit hash key per record (the KPL's field 2)
    aggregator = RecordAggregator()
    for k, (payload, key) in enumerate(zip(payloads, keys, strict=True)):
        assert aggregator.add_user_record(key, payload, explicit_hash_key=str(k * 2**100)) is None
    record = aggregator.clear_and_get()
    assert record is not None
    # Then the handler reads the same CDRs, keys and outcome as from our aggregate without them
    with_hash_keys = record.get_contents()[2]
    assert with_hash_keys != aggregate(payloads, keys)
    units = expand(kinesis_event([with_hash_keys]))
    assert list(zip(units.partition_key, units.payload, strict=True)) == list(
        zip(keys, payloads, strict=True)
    )
    assert handled([with_hash_keys]) == handled([aggregate(payloads, keys)])
