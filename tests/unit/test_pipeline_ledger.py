"""CDRCAP_EXACTLY_ONCE=ledger: claims per (shard, arrival second), one delta item per commit, readers sum."""

from dataclasses import replace
from typing import Any

import pytest

from cdrcap.observe import read_aggregates
from cdrcap.truth import observe_memory, truth_of_events
from cdrcap.verify import check
from pipeline import aggregate, ledger
from pipeline.aggregate import Claim
from pipeline.events import expand
from pipeline.processor import BatchOutcome, BatchProcessor
from pipeline.schema import ReasonCode
from pipeline.stores import InMemoryLedgerStore, in_memory_stores
from tests.support.lambda_driver import deliver_with_faults
from tests.support.pipeline_events import (
    NOW_MS,
    PIPELINE_CONFIG,
    SHARD,
    as_json,
    kinesis_record,
    make_cdr,
    mixed_batch,
)


def event_over_seconds(payloads: list[bytes], seconds: int, first_seq: int = 0) -> dict[str, Any]:
    """One shard's records arriving evenly over `seconds` seconds (one claims bucket per second)."""
    step = seconds * 1000 // len(payloads)
    return {
        "Records": [
            kinesis_record(p, first_seq + k, SHARD, NOW_MS - seconds * 1000 + k * step)
            for k, p in enumerate(payloads)
        ]
    }


def run(store: InMemoryLedgerStore | Any, event: dict[str, Any]) -> BatchOutcome:
    return BatchProcessor(PIPELINE_CONFIG, store).process(event, now_ms=NOW_MS)


@pytest.fixture(scope="module")
def batch() -> dict[str, Any]:
    payloads, _ = mixed_batch(500)
    return event_over_seconds(payloads, seconds=3)


@pytest.fixture(scope="module")
def reference(batch: dict[str, Any]) -> dict[Any, dict[str, int]]:
    """One clean delivery under ledger: every re-delivery scenario must sum to it. (It counts the batch's
    cross-second copies of a cdr_id that per_record rejects: see the "gives up" tests; with one arrival
    second, tests/unit/test_pipeline_processor.py checks ledger sums to per_record's very aggregates.)"""
    stores = in_memory_stores("ledger")
    run(stores, batch)
    return stores.aggregates.snapshot()  # type: ignore[attr-defined]


def ledger_store(stores: Any) -> InMemoryLedgerStore:
    assert isinstance(stores.aggregates, InMemoryLedgerStore)
    return stores.aggregates


def test_a_batch_is_one_commit_claiming_each_arrival_second_in_its_own_bucket(
    batch: dict[str, Any], reference: dict[Any, dict[str, int]]
) -> None:
    stores = in_memory_stores("ledger")
    outcome = run(stores, batch)
    store = ledger_store(stores)
    # Then one delta item, one claims item per (shard, second) the batch spans, and the reader's sum is exact
    assert outcome.dynamo_write_requests == 1 and len(store.delta_items) == 1
    assert sorted(store.buckets) == [(f"claims#{SHARD}", f"s#{NOW_MS // 1000 - k}") for k in (3, 2, 1)]
    assert sum(len(b.units) for b in store.buckets.values()) == outcome.applied
    assert store.snapshot() == reference
    # And it costs well under one write unit per CDR (2 per started KB of each of the 4 items)
    assert outcome.dynamo_write_units < 0.2 * outcome.applied


def test_a_replayed_unit_is_found_in_its_bucket_whatever_the_batch_boundaries(
    batch: dict[str, Any], reference: dict[Any, dict[str, int]]
) -> None:
    records = batch["Records"]
    stores = in_memory_stores("ledger")
    # Given the batch as a bisected half, a re-cut batch straddling it, then whole
    first = run(stores, {"Records": records[:250]})
    recut = run(stores, {"Records": records[100:400]})
    whole = run(stores, {"Records": records})
    # Then every re-delivered unit is a replay, none applied twice, and the sum equals one delivery
    once = run(in_memory_stores("ledger"), batch)
    assert whole.replayed == first.applied + recut.applied > 0
    assert first.applied + recut.applied + whole.applied == once.applied
    assert ledger_store(stores).snapshot() == reference


def test_the_sum_would_show_a_unit_counted_twice(
    batch: dict[str, Any], reference: dict[Any, dict[str, int]]
) -> None:
    # Given the claims lost between two deliveries (exactly-once broken on purpose)
    stores = in_memory_stores("ledger")
    run(stores, {"Records": batch["Records"][:10]})
    ledger_store(stores).forget_claims()
    run(stores, batch)
    # Then the reader's sum differs from one delivery: the comparison the other tests rely on can fail
    assert ledger_store(stores).snapshot() != reference


def test_a_concurrent_writer_between_read_and_commit_makes_its_units_replays(
    batch: dict[str, Any], reference: dict[Any, dict[str, int]]
) -> None:
    records = batch["Records"]
    stores = in_memory_stores("ledger")
    store = ledger_store(stores)
    other = BatchProcessor(PIPELINE_CONFIG, stores)
    lane: dict[str, BatchOutcome] = {}

    def concurrent_delivery() -> None:  # another lane commits an overlapping re-cut batch right now
        lane["outcome"] = other.process({"Records": records[300:]}, now_ms=NOW_MS)

    store.before_commit = concurrent_delivery
    # When our commit finds the claims items' versions moved, it reads again and rebuilds
    outcome = run(stores, batch)
    # Then the units the other lane committed are replays for us, and the sum is one delivery
    assert lane["outcome"].applied > 0
    assert outcome.replayed == lane["outcome"].applied
    assert outcome.applied + lane["outcome"].applied + sum(outcome.rejected.values()) == outcome.records_in
    assert store.snapshot() == reference


def test_a_writer_that_keeps_conflicting_becomes_a_transient_failure(batch: dict[str, Any]) -> None:
    stores = in_memory_stores("ledger")
    store = ledger_store(stores)
    seen = {"n": 0}
    inner_commit = store._commit

    def always_moved(*args: Any) -> int:
        seen["n"] += 1
        bucket = next(iter(store.buckets.values()), None)
        if bucket is not None:
            bucket.version += 1  # someone else committed again
        else:
            store.buckets[(f"claims#{SHARD}", f"s#{NOW_MS // 1000 - 3}")] = ledger.ClaimSet(1)
        return inner_commit(*args)

    store._commit = always_moved  # type: ignore[method-assign]
    outcome = run(stores, batch)
    # Then after the bounded rounds the whole batch is left for re-delivery, nothing written
    assert seen["n"] > 1 and outcome.applied == 0
    assert outcome.failed_sequence_numbers and not store.delta_items


def test_a_batch_too_big_for_one_transaction_is_split_and_a_failed_commit_is_the_failure_point(
    batch: dict[str, Any], reference: dict[Any, dict[str, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given commits limited to 2 claims items and ~8 KB of delta: the batch needs several
    monkeypatch.setattr(aggregate, "LEDGER_MAX_BUCKETS", 2)
    monkeypatch.setattr(aggregate, "LEDGER_MAX_DELTA_BYTES", 8 * 1024)
    records = batch["Records"]
    stores = in_memory_stores("ledger")
    store = ledger_store(stores)
    calls = {"n": 0}
    apply = store.apply

    def throttled_third(*args: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:
            store.fail_next_applies = 1
        return apply(*args)

    store.apply = throttled_third  # type: ignore[method-assign]
    outcome = run(stores, batch)
    # Then two commits landed, and everything from the third commit's first record on is re-delivered
    assert len(store.delta_items) == 2 and outcome.failed_sequence_numbers
    lowest = [r["kinesis"]["sequenceNumber"] for r in records].index(outcome.failed_sequence_numbers[0])
    assert 0 < lowest < len(records)
    store.apply = apply  # type: ignore[method-assign]
    retry = run(stores, {"Records": records[lowest:]})
    assert retry.failed_sequence_numbers == [] and retry.replayed == 0
    assert len(store.delta_items) > 3 and store.snapshot() == reference


def test_chunks_respect_the_bucket_and_delta_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    payloads = [as_json(make_cdr(i)) for i in range(40)]
    event = event_over_seconds(payloads, seconds=20)
    monkeypatch.setattr(aggregate, "LEDGER_MAX_BUCKETS", 3)
    stores = in_memory_stores("ledger")
    run(stores, event)
    store = ledger_store(stores)
    # 20 seconds, 3 buckets a commit: 7 commits, each claims item written once
    assert len(store.delta_items) == 7 and len(store.buckets) == 20
    assert all(b.version == 1 for b in store.buckets.values())


def test_what_ledger_gives_up_a_reused_cdr_id_in_another_second_is_not_a_duplicate() -> None:
    outcomes = {}
    for design in ("per_record", "ledger"):
        stores = in_memory_stores(design)
        run(stores, {"Records": [kinesis_record(as_json(make_cdr(1)), 0, SHARD, NOW_MS - 5_000)]})
        # When the producer re-sends the CDR in the same second (caught) and two seconds later (not by ledger)
        same = run(stores, {"Records": [kinesis_record(as_json(make_cdr(1)), 1, SHARD, NOW_MS - 4_900)]})
        later = run(stores, {"Records": [kinesis_record(as_json(make_cdr(1)), 2, SHARD, NOW_MS - 3_000)]})
        outcomes[design] = (same, later)
    duplicate = {ReasonCode.DUPLICATE_CDR.value: 1}
    assert dict(outcomes["per_record"][0].rejected) == duplicate == dict(outcomes["per_record"][1].rejected)
    # Then ledger rejects the same-second re-send, naming the unit that carried it, and counts the later one
    assert dict(outcomes["ledger"][0].rejected) == duplicate
    assert outcomes["ledger"][1].applied == 1


def test_the_duplicate_names_the_unit_that_carried_the_cdr_id() -> None:
    states = {
        ledger.bucket_key(Claim("x", f"{SHARD}/7/2", ("", ""), NOW_MS)): ledger.merged(
            [Claim("x", f"{SHARD}/7/2", ("", ""), NOW_MS)], {}, 0
        )[(f"claims#{SHARD}", f"s#{NOW_MS // 1000}")]
    }
    mine, dup, new = (
        Claim("x", f"{SHARD}/7/2", ("", ""), NOW_MS),
        Claim("x", f"{SHARD}/9/", ("", ""), NOW_MS),
        Claim("y", f"{SHARD}/10/", ("", ""), NOW_MS),
    )
    assert ledger.conflicting([new, mine, dup], states) == (1, 2)
    assert ledger.owners([mine, dup, new], states) == {
        mine.position: mine.position,
        dup.position: mine.position,
    }
    assert ledger.owners([dup], states) == {dup.position: mine.position}


def test_claims_and_deltas_round_trip_and_stay_small() -> None:
    units = {
        ledger.unit_id(
            f"{SHARD}/{49590338271490256608559692538361571095921575989136588898 + k}/"
        ): ledger.cdr_digest(str(k))
        for k in range(1000)
    }
    blob = ledger.encode_claims(units)
    assert ledger.decode_claims(blob) == units
    assert len(blob) < 20 * 1000  # 27-byte ids + 8-byte digests, sorted, compressed
    deltas = {(f"anum#+1201555{k:04d}", "m#2026-11-18T13:00Z"): [1, 1, 1, 60, 55, 0, 0] for k in range(500)}
    assert ledger.decode_delta(ledger.encode_delta(deltas)) == deltas


class ScanPages:
    """A DynamoDB client's scan over fixed pages (what read_aggregates sees)."""

    def __init__(self, pages: list[list[dict[str, Any]]]) -> None:
        self.pages = pages

    def scan(self, **kwargs: Any) -> dict[str, Any]:
        index = int(kwargs.get("ExclusiveStartKey", {}).get("page", 0))
        page: dict[str, Any] = {"Items": self.pages[index]}
        if index + 1 < len(self.pages):
            page["LastEvaluatedKey"] = {"page": index + 1}
        return page


def test_the_reader_sums_the_delta_items_across_pages_and_skips_claims_and_fraud_state() -> None:
    key = ("cell#310-260-1001-11", "m#2026-11-18T13:00Z")
    one = ledger.encode_delta({key: [1, 1, 1, 60, 55, 0, 0]})
    two = ledger.encode_delta({key: [2, 2, 0, 10, 0, 0, 0], ("dest#GB", key[1]): [1, 1, 1, 5, 5, 0, 0]})

    def item(pk: str, sk: str, **attributes: Any) -> dict[str, Any]:
        return {"pk": {"S": pk}, "sk": {"S": sk}, **attributes}

    pages = [
        [item("delta#m#2026-11-18T13:59Z", f"{SHARD}/1/", d={"B": one})],
        [
            item(f"claims#{SHARD}", "s#1795010399", v={"N": "2"}, c={"B": ledger.encode_claims({})}),
            item("delta#m#2026-11-18T13:59Z", f"{SHARD}/9/", d={"B": two}),
            # the fraud stage's window state in the same table (fraud on): not an aggregate
            item("fraud#004d8fcef35ea013", "win#60#1796306700000", **{"velocity.calls": {"N": "3"}}),
        ],
    ]
    found = read_aggregates(ScanPages(pages), "table")
    assert found[key] == {
        "records": 3,
        "calls": 3,
        "answered_calls": 1,
        "total_s": 70,
        "billable_s": 55,
        "sms": 0,
        "data_bytes": 0,
    }
    assert found[("dest#GB", key[1])]["records"] == 1 and len(found) == 2


def test_within_a_batch_a_duplicate_is_judged_in_the_scope_a_suffix_redelivery_can_check() -> None:
    copy_a = kinesis_record(as_json(make_cdr(1)), 0, SHARD, NOW_MS - 5_000)
    same_second = kinesis_record(as_json(make_cdr(1)), 1, SHARD, NOW_MS - 4_900)
    next_second = kinesis_record(as_json(make_cdr(1)), 2, SHARD, NOW_MS - 3_000)
    stores = in_memory_stores("ledger")
    # Given one batch: a CDR, its copy in the same second, its copy two seconds later
    outcome = run(stores, {"Records": [copy_a, same_second, next_second]})
    # Then the same-second copy is a duplicate and the later one counted, exactly as a suffix re-delivery
    # holding only the later copies decides (it cannot see the first copy's bucket)
    assert outcome.applied == 2 and dict(outcome.rejected) == {ReasonCode.DUPLICATE_CDR.value: 1}
    suffix = run(stores, {"Records": [same_second, next_second]})
    assert suffix.replayed == 1 and dict(suffix.rejected) == {ReasonCode.DUPLICATE_CDR.value: 1}
    assert suffix.applied == 0


@pytest.mark.parametrize("bisect", [False, True], ids=["retry-whole", "bisect"])
def test_every_fault_on_batches_spanning_seconds_keeps_the_invariant(
    bisect: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given 600 records (copies of some cdr_ids among them) arriving over 6 seconds, cut into 40-record
    # batches whose commits straddle claims buckets, and every fault switched on
    payloads, _ = mixed_batch(600)
    records = event_over_seconds(payloads, seconds=6)["Records"]
    events = [{"Records": records[i : i + 40]} for i in range(0, len(records), 40)]
    truth = truth_of_events(events, replace(PIPELINE_CONFIG, exactly_once="ledger"), NOW_MS)
    monkeypatch.setattr("time.time", lambda: NOW_MS / 1000)
    stores = in_memory_stores("ledger")
    spec = (
        "crash_before_apply:0.1,crash_after_apply:0.15,crash_before_emit:0.1,dynamo_throttle:0.1,s3_error:0.1"
    )
    invocations, plan = deliver_with_faults(events, stores, spec, seed=3, bisect=bisect)
    # Then every CDR is accounted for exactly once under ledger's duplicate scope
    assert sum(plan.fired.values()) > 0 and invocations > len(events)
    report = check(truth, observe_memory(stores))
    assert report.ok, report.text()


def _ledger_chunks_record_by_record(cdrs: Any, positions: Any, indices: Any, arrivals: Any) -> list[Any]:
    """build_ledger_chunks as specified, one record at a time through item_keys and contribution."""
    chunks: list[Any] = []
    chunk = aggregate.Chunk()
    buckets: set[tuple[str, int]] = set()
    delta_bytes = 0
    for index in indices:
        cdr, position, arrival_ms = cdrs[index], positions[index], arrivals[index]
        minute_s, keys = aggregate.item_keys(cdr)
        bucket = (position[: position.find("/")], arrival_ms // 1000)
        item = aggregate._LEDGER_ITEM_BYTES
        new_bytes = sum(len(k[0]) + item for k in keys if k not in chunk.deltas)
        if chunk.indices and (
            delta_bytes + new_bytes > aggregate.LEDGER_MAX_DELTA_BYTES
            or (bucket not in buckets and len(buckets) == aggregate.LEDGER_MAX_BUCKETS)
        ):
            chunks.append(chunk)
            chunk, buckets, delta_bytes = aggregate.Chunk(), set(), 0
            new_bytes = sum(len(k[0]) + item for k in keys)
        buckets.add(bucket)
        delta_bytes += new_bytes
        vector = aggregate.contribution(cdr)
        for key in keys:
            summed = chunk.deltas.get(key)
            chunk.deltas[key] = (
                vector if summed is None else [a + b for a, b in zip(summed, vector, strict=True)]
            )
            chunk.minute_s.setdefault(key, minute_s)
        chunk.indices.append(index)
        chunk.claims.append(Claim(cdr.cdr_id, position, keys[1], arrival_ms))
    if chunk.indices:
        chunks.append(chunk)
    return chunks


@pytest.mark.parametrize(
    ("max_buckets", "max_delta_bytes"), [(16, aggregate.LEDGER_MAX_DELTA_BYTES), (1, 3_000)]
)
def test_ledger_chunks_are_the_record_by_record_packing(
    batch: dict[str, Any], monkeypatch: pytest.MonkeyPatch, max_buckets: int, max_delta_bytes: int
) -> None:
    # Given a mixed batch arriving over 3 seconds, decoded, and the ledger's limits (small ones force cuts)
    monkeypatch.setattr(aggregate, "LEDGER_MAX_BUCKETS", max_buckets)
    monkeypatch.setattr(aggregate, "LEDGER_MAX_DELTA_BYTES", max_delta_bytes)
    processor = BatchProcessor(PIPELINE_CONFIG, in_memory_stores("ledger"))
    decoded = processor._decode(expand(batch), NOW_MS)
    accepted = [i for i, cdr in enumerate(decoded.cdrs) if cdr is not None]
    args = (decoded.cdrs, decoded.positions, accepted, decoded.units.arrival_ms)
    # When it is packed, Then the commits are those of the record-by-record packing: same records, claims,
    # counters (in the same item order) and minutes
    packed = aggregate.build_ledger_chunks(*args)
    expected = _ledger_chunks_record_by_record(*args)
    assert len(packed) == len(expected) > (1 if max_buckets == 1 else 0)
    for chunk, want in zip(packed, expected, strict=True):
        assert chunk.indices == want.indices
        assert chunk.claims == want.claims
        assert list(chunk.deltas.items()) == list(want.deltas.items())
        assert chunk.minute_s == want.minute_s


def test_claim_keys_are_each_claims_bucket_unit_id_and_digest() -> None:
    # Given claims of plain records and of KPL sub-records, in two arrival seconds
    claims = [
        Claim("a", f"{SHARD}/49590338271490256608559692538361571095921575989136588898/", ("", ""), NOW_MS),
        Claim("b", f"{SHARD}/7/0", ("", ""), NOW_MS + 999),
        Claim("c", f"{SHARD}/7/65534", ("", ""), NOW_MS + 1_000),
    ]
    # When their keys are computed once, Then they are the helpers' values, claim by claim
    assert ledger.claim_keys(claims) == [
        (ledger.bucket_key(claim), ledger.unit_id(claim.position), ledger.cdr_digest(claim.cdr_id))
        for claim in claims
    ]
