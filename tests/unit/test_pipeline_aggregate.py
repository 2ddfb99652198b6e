import random
from typing import Any

from pipeline.aggregate import COUNTERS, _by_locality, build_chunks, contribution, item_keys
from pipeline.aws_limits import DDB_TRANSACT_WRITE_MAX_ITEMS
from pipeline.decode import decode_payload
from pipeline.schema import CanonicalCDR
from pipeline.validate import Limits, to_canonical
from tests.support.pipeline_events import NOW_MS, as_json, make_cdr

LIMITS = Limits("US", NOW_MS, 300_000, 30 * 86_400_000)


def cdr(i: int, **overrides: object) -> CanonicalCDR:
    return to_canonical(decode_payload(as_json(make_cdr(i, **overrides)), 65536)[1], "json", LIMITS)


def counters(record: CanonicalCDR) -> dict[str, int]:
    return dict(zip(COUNTERS, contribution(record), strict=True))


def test_answered_call_counts_holding_and_billable_seconds() -> None:
    assert counters(cdr(1)) == {
        "records": 1,
        "calls": 1,
        "answered_calls": 1,
        "total_s": 65,
        "billable_s": 60,
        "sms": 0,
        "data_bytes": 0,
    }


def test_unanswered_call_has_holding_time_but_no_billable_seconds() -> None:
    record = cdr(1, answer_time=None, release_time="2026-11-18T08:00:25", duration_s=25)
    assert counters(record)["total_s"] == 25 and counters(record)["billable_s"] == 0


def test_data_session_counts_bytes_and_has_no_destination_item() -> None:
    record = cdr(1, record_type="DATA", answer_time=None, bytes_up=10, bytes_down=32)
    assert counters(record)["data_bytes"] == 42
    assert [pk.split("#")[0] for pk, _ in item_keys(record)[1]] == ["cell", "anum"]


def test_keys_are_minute_buckets_per_cell_a_number_and_country() -> None:
    minute_s, keys = item_keys(cdr(1))
    assert minute_s % 60 == 0
    assert keys == [
        ("cell#310-260-1001-11", "m#2026-11-18T13:00Z"),
        ("anum#+12015550001", "m#2026-11-18T13:00Z"),
        ("dest#GB", "m#2026-11-18T13:00Z"),
    ]


def test_records_sharing_items_are_pre_aggregated_into_one_write_each() -> None:
    records = [cdr(1, call_reference=f"R{i}") for i in range(10)]
    (chunk,) = build_chunks(records, [f"p{i}" for i in range(10)], list(range(10)))
    assert len(chunk.claims) == 10 and len(chunk.deltas) == 3
    assert all(vector[0] == 10 for vector in chunk.deltas.values())


def test_chunks_never_exceed_one_transaction_and_hold_every_record_once() -> None:
    records = [cdr(i, cell_id=i) for i in range(300)]
    chunks = build_chunks(records, [f"p{i}" for i in range(300)], list(range(300)))
    assert all(len(c.claims) + len(c.deltas) <= DDB_TRANSACT_WRITE_MAX_ITEMS for c in chunks)
    assert sorted(i for c in chunks for i in c.indices) == list(range(300))
    assert all(c.claims[j].position == f"p{i}" for c in chunks for j, i in enumerate(c.indices))


def test_records_are_packed_by_destination_so_a_country_item_is_written_by_few_chunks() -> None:
    # Given 300 CDRs from distinct subscribers, interleaving three destination countries
    numbers = ["+442079460958", "+33142685300", "+4930123456"]
    records = [cdr(i, cell_id=i % 7, called_number=numbers[i % 3]) for i in range(300)]
    # When packed into transactions
    chunks = build_chunks(records, [f"p{i}" for i in range(300)], list(range(300)))
    # Then each chunk boundary splits at most one country: countries + chunks - 1 writes of country items,
    # where Kinesis order would write all three countries in every chunk
    country_writes = sum(1 for c in chunks for pk, _ in c.deltas if pk.startswith("dest#"))
    assert country_writes <= len(numbers) + len(chunks) - 1
    assert len(chunks) >= 4


def test_packing_order_by_ranks_is_the_sort_of_the_keyed_tuples() -> None:
    # Given keyed records with repeating destination and cell items (and records without a destination)
    rng = random.Random(5)
    keyed: list[Any] = []
    for index in sorted(rng.sample(range(10_000), 400)):
        sk = f"m#2026-11-18T08:0{rng.randrange(3)}Z"
        dest = ("", "") if rng.random() < 0.1 else (f"dest#{rng.choice('GB US FR IN')}", sk)
        keyed.append((dest, (f"cell#{rng.randrange(30)}", sk), index, 0, [], [], str(index), ("", "")))
    # Then ranking them orders them as sorting the tuples does
    assert _by_locality(keyed) == sorted(keyed)
