import gzip
from typing import Any

import orjson
import pytest

from pipeline.constants import EXACTLY_ONCE_DESIGNS
from pipeline.processor import BatchOutcome, BatchProcessor
from pipeline.schema import ReasonCode
from pipeline.stores import (
    InMemoryAggregateStore,
    InMemoryArchive,
    InMemoryDeadLetterQueue,
    InMemoryOutputStream,
    Stores,
    in_memory_stores,
)
from tests.support.pipeline_events import (
    NOW_MS,
    PIPELINE_CONFIG,
    as_csv,
    as_json,
    as_kpl,
    kinesis_event,
    make_cdr,
    mixed_batch,
)


def run(stores: Stores, event: dict[str, Any]) -> BatchOutcome:
    return BatchProcessor(PIPELINE_CONFIG, stores).process(event, now_ms=NOW_MS)


def aggregates(stores: Stores) -> dict[Any, dict[str, int]]:
    assert isinstance(stores.aggregates, InMemoryAggregateStore)
    return stores.aggregates.snapshot()


@pytest.fixture(params=EXACTLY_ONCE_DESIGNS)
def design(request: pytest.FixtureRequest) -> str:
    """Every re-delivery test runs against every exactly-once design (CDRCAP_EXACTLY_ONCE)."""
    return str(request.param)


@pytest.fixture(scope="module")
def batch() -> tuple[dict[str, Any], dict[str, int]]:
    payloads, expected = mixed_batch(500)
    return kinesis_event(payloads), expected


@pytest.fixture(scope="module")
def reference(batch: tuple[dict[str, Any], dict[str, int]]) -> dict[Any, dict[str, int]]:
    """The aggregates of one clean delivery: every re-delivery scenario must end here."""
    stores = in_memory_stores()
    run(stores, batch[0])
    return aggregates(stores)


def test_every_record_of_a_mixed_batch_is_accounted_for(batch: tuple[dict[str, Any], dict[str, int]]) -> None:
    # Given a 500-record batch of good, bad, KPL and duplicate records
    event, expected = batch
    stores = in_memory_stores()
    # When processed once
    outcome = run(stores, event)
    # Then each unit is applied or rejected with the expected reason, and nothing is retried
    assert outcome.applied == expected["ok"]
    assert dict(outcome.rejected) == {k: v for k, v in expected.items() if k != "ok"}
    assert outcome.failed_sequence_numbers == [] and outcome.deferred == 0
    assert isinstance(stores.dlq, InMemoryDeadLetterQueue) and isinstance(stores.output, InMemoryOutputStream)
    assert len(stores.dlq.messages) == sum(outcome.rejected.values())
    assert len(stores.output.records) == expected["ok"]


def test_whole_batch_redelivery_leaves_aggregates_unchanged(
    batch: tuple[dict[str, Any], dict[str, int]],
    reference: dict[Any, dict[str, int]],
    design: str,
) -> None:
    stores = in_memory_stores(design)
    run(stores, batch[0])
    # When Lambda re-delivers the whole batch (e.g. after a timeout)
    again = run(stores, batch[0])
    # Then nothing is applied twice and the duplicates are still recognised as such
    assert again.applied == 0 and again.replayed == batch[1]["ok"]
    assert aggregates(stores) == reference


def test_suffix_redelivery_after_a_transient_failure_is_exact(
    batch: tuple[dict[str, Any], dict[str, int]],
    reference: dict[Any, dict[str, int]],
    design: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given DynamoDB throttling the third chunk of the batch beyond retries (ledger commits a 500-record
    # batch at once: its delta is limited here so that the batch needs several commits)
    monkeypatch.setattr("pipeline.aggregate.LEDGER_MAX_DELTA_BYTES", 8 * 1024)
    stores = in_memory_stores(design)
    store = stores.aggregates
    assert isinstance(store, InMemoryAggregateStore)
    first = BatchProcessor(PIPELINE_CONFIG, stores)
    original_apply = store.apply
    calls = {"n": 0}

    def flaky_apply(*args: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:
            store.fail_next_applies = 1
        return original_apply(*args)

    store.apply = flaky_apply  # type: ignore[method-assign,assignment]
    outcome = first.process(batch[0], now_ms=NOW_MS)
    # Then only the records from the failed chunk on are reported, by sequence number
    assert outcome.failed_sequence_numbers and outcome.deferred > 0
    # And a record is counted once: applied before the failure point, deferred from it on (an earlier
    # chunk may have applied some of those: they count as replays when re-delivered)
    assert outcome.applied + sum(outcome.rejected.values()) + outcome.deferred == outcome.records_in
    records = batch[0]["Records"]
    seqs = [r["kinesis"]["sequenceNumber"] for r in records]
    lowest = seqs.index(outcome.failed_sequence_numbers[0])
    assert outcome.failed_sequence_numbers == seqs[lowest:]
    # When Lambda re-delivers everything from the lowest failed sequence number
    store.apply = original_apply  # type: ignore[method-assign]
    retry = run(stores, {"Records": records[lowest:]})
    # Then the aggregates equal one clean delivery
    assert retry.failed_sequence_numbers == []
    assert aggregates(stores) == reference


def test_bisected_and_recut_redeliveries_are_exact(
    batch: tuple[dict[str, Any], dict[str, int]],
    reference: dict[Any, dict[str, int]],
    design: str,
) -> None:
    records = batch[0]["Records"]
    stores = in_memory_stores(design)
    # Given the batch delivered as a bisected first half, then re-cut differently, then whole
    run(stores, {"Records": records[:250]})
    run(stores, {"Records": records[100:400]})
    run(stores, {"Records": records})
    assert aggregates(stores) == reference


def test_parallel_lanes_interleaved_with_retries_are_exact(
    batch: tuple[dict[str, Any], dict[str, int]],
    reference: dict[Any, dict[str, int]],
    design: str,
) -> None:
    # Given PF=2: records split into two lanes by partition key, processed out of shard order
    records = batch[0]["Records"]
    lanes: list[list[dict[str, Any]]] = [[], []]
    for record in records:
        lanes[hash(record["kinesis"]["partitionKey"]) % 2].append(record)
    stores = in_memory_stores(design)
    # When lane 1 runs ahead, lane 0 is re-delivered partially and then fully
    run(stores, {"Records": lanes[1]})
    run(stores, {"Records": lanes[0][: len(lanes[0]) // 2]})
    run(stores, {"Records": lanes[0][len(lanes[0]) // 3 :]})
    run(stores, {"Records": lanes[1][10:]})
    assert aggregates(stores) == reference


def test_same_cdr_from_another_kinesis_record_is_a_duplicate(design: str) -> None:
    stores = in_memory_stores(design)
    run(stores, kinesis_event([as_json(make_cdr(1))], first_seq=0))
    # When the producer re-sends the same CDR (a new sequence number)
    outcome = run(stores, kinesis_event([as_csv(make_cdr(1))], first_seq=5))
    assert dict(outcome.rejected) == {ReasonCode.DUPLICATE_CDR.value: 1}
    assert isinstance(stores.dlq, InMemoryDeadLetterQueue)
    message = orjson.loads(stores.dlq.messages[0])
    assert message["reason"] == "DUPLICATE_CDR" and "shardId-000000000000/" in message["detail"]


def test_kpl_sub_record_rejects_carry_parent_sequence_and_sub_sequence() -> None:
    stores = in_memory_stores()
    outcome = run(stores, kinesis_event([as_kpl([as_json(make_cdr(1)), b"garbage"])], first_seq=3))
    assert outcome.applied == 1
    assert isinstance(stores.dlq, InMemoryDeadLetterQueue)
    message = orjson.loads(stores.dlq.messages[0])
    assert message["sub_sequence_number"] == 1
    assert message["sequence_number"].endswith("901")  # BASE_SEQUENCE + 3
    assert message["dedup_key"].endswith("/1")


def test_output_failure_defers_the_suffix_without_dead_lettering_it() -> None:
    # Given the output stream rejecting the 3rd good record after retries
    stores = Stores(
        InMemoryAggregateStore(),
        InMemoryArchive(),
        InMemoryOutputStream(fail_indices={2}),
        InMemoryDeadLetterQueue(),
    )
    payloads = [as_json(make_cdr(i)) for i in range(3)] + [b"garbage"] + [as_json(make_cdr(9))]
    outcome = run(stores, kinesis_event(payloads))
    # Then records from the 3rd on are re-delivered, and the later bad one is not dead-lettered yet
    assert len(outcome.failed_sequence_numbers) == 3
    assert isinstance(stores.dlq, InMemoryDeadLetterQueue) and stores.dlq.messages == []


def test_archive_is_one_deterministic_gzip_object_per_batch() -> None:
    stores = in_memory_stores()
    event = kinesis_event([as_json(make_cdr(i)) for i in range(3)])
    run(stores, event)
    run(stores, event)
    assert isinstance(stores.archive, InMemoryArchive)
    ((key, body),) = stores.archive.objects.items()
    assert key.startswith("cdr/2026/11/18/14/shardId-000000000000/")
    lines = gzip.decompress(body).splitlines()
    assert [orjson.loads(line)["dedup_key"] for line in lines] == [f"MSC01:CR0000000{i}:0" for i in range(3)]
